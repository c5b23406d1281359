import ConveyorCore
import Foundation
import Testing

let oneMegabyte = String(repeating: "a", count: 1 << 20)

/// The error thrown by `body`, or nil when it does not throw.
func failure<T>(_ body: () throws(ValidationError) -> T) -> ValidationError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

@Suite struct RefValidationTests {
    @Test func trimsAndAccepts() throws {
        #expect(try Validate.ref("  ivan\n") == "ivan")
        #expect(try Validate.ref("Иван Петров-Ø") == "Иван Петров-Ø")
        #expect(try Validate.ref(String(repeating: "x", count: 200)).count == 200)
        // Length counts characters, not bytes or scalars: 200 family emoji are 200 characters.
        let family = String(repeating: "👨‍👩‍👧", count: 200)
        #expect(try Validate.ref(family) == family)
    }

    @Test(arguments: ["", "   ", "\n\t"])
    func rejectsEmpty(_ text: String) {
        #expect(failure { () throws(ValidationError) in try Validate.ref(text) }
            == ValidationError(field: "ref", message: "ref must not be empty"))
    }

    @Test func rejectsOversize() {
        #expect(failure { () throws(ValidationError) in try Validate.ref(String(repeating: "x", count: 201)) }?.message
            == "ref must be at most 200 characters, got 201")
        #expect(failure { () throws(ValidationError) in try Validate.ref(oneMegabyte) }?.message
            == "ref must be at most 200 characters, got 1048576")
        #expect(failure { () throws(ValidationError) in try Validate.ref(String(repeating: "👨‍👩‍👧", count: 201)) } != nil)
    }

    /// "acme\u{202E}gnp.exe" prints as "acmeexe.png"; "iv\u{200B}an" looks like "ivan".
    @Test(arguments: ["acme\u{202E}gnp.exe", "iv\u{200B}an", "a\u{2066}b\u{2069}", "\u{FEFF}bom", "a\u{200F}b", "a\u{061C}b"])
    func rejectsBidiControlsAndInvisibleSpaces(_ text: String) {
        let error = failure { () throws(ValidationError) in try Validate.ref(text) }
        #expect(error?.message.hasPrefix("ref must not contain bidi controls or invisible spaces") == true, "\(String(describing: error))")
    }

    @Test(arguments: ["a\u{0}b", "a\tb", "a\nb", "a\u{7F}b", "a\u{85}b", "a\u{1B}[31mb", "a\u{9F}"])
    func rejectsControlCharacters(_ text: String) {
        let error = failure { () throws(ValidationError) in try Validate.ref(text, field: "account") }
        #expect(error?.field == "account")
        #expect(error?.message.hasPrefix("account must not contain control characters, got \"a") == true)
    }

    @Test func messagesEscapeTheValue() {
        #expect(failure { () throws(ValidationError) in try Validate.ref("a\u{1}b") }?.description
            == #"ref must not contain control characters, got "a\u0001b""#)
    }
}

@Suite struct NameValidationTests {
    @Test func accepts() throws {
        #expect(try Validate.name("") == "")
        #expect(try Validate.name("  ООО «Транс-Логистик» 🚚 ") == "ООО «Транс-Логистик» 🚚")
        #expect(try Validate.name(String(repeating: "é", count: 1000)).count == 1000)
    }

    @Test func rejects() {
        #expect(failure { () throws(ValidationError) in try Validate.name(String(repeating: "é", count: 1001)) }?.message
            == "name must be at most 1000 characters, got 1001")
        #expect(failure { () throws(ValidationError) in try Validate.name(oneMegabyte) } != nil)
        #expect(failure { () throws(ValidationError) in try Validate.name("two\nlines") }?.field == "name")
    }
}

@Suite struct SkillsValidationTests {
    @Test func splitsTrimsDropsEmptyAndDedupes() throws {
        #expect(try Validate.skills(" customs, rail ,,customs, ,air") == ["customs", "rail", "air"])
        #expect(try Validate.skills("Rail,rail") == ["Rail", "rail"])
        #expect(try Validate.skills("таможня,ж/д") == ["таможня", "ж/д"])
        #expect(try Validate.skills("") == [])
        #expect(try Validate.skills(" , ,, ") == [])
        #expect(try Validate.skills(String(repeating: ",", count: 1 << 20)) == [])
    }

    @Test func limitsCountAfterDeduplication() throws {
        let fifty = (1...50).map { "s\($0)" }
        #expect(try Validate.skills(fifty.joined(separator: ",")) == fifty)
        #expect(try Validate.skills((fifty + fifty).joined(separator: ",")) == fifty)
        #expect(failure { () throws(ValidationError) in try Validate.skills((fifty + ["s51"]).joined(separator: ",")) }?.message
            == "skills must list at most 50 entries")
    }

    @Test func limitsEachEntry() throws {
        #expect(try Validate.skills(String(repeating: "k", count: 100)).count == 1)
        #expect(failure { () throws(ValidationError) in try Validate.skills("ok," + String(repeating: "k", count: 101)) }?.message
            == "each of skills must be at most 100 characters, got 101")
        #expect(failure { () throws(ValidationError) in try Validate.skills(oneMegabyte, field: "needs") }?.message
            == "each of needs must be at most 100 characters, got 1048576")
        #expect(failure { () throws(ValidationError) in try Validate.skills("air,ra\u{0}il") }?.field == "skills")
    }
}

@Suite struct CapacityValidationTests {
    @Test func accepts() throws {
        #expect(try Validate.capacity("0") == 0)
        #expect(try Validate.capacity(" 40\n") == 40)
        #expect(try Validate.capacity("007") == 7)
        #expect(try Validate.capacity("100000") == 100_000)
    }

    @Test(arguments: [
        "", " ", "abc", "-1", "+5", "100001", "4.5", "1e3", "0x10", "٣", "１２", "99999999999999999999", "4 5", "40\u{0}",
    ])
    func rejects(_ text: String) {
        let error = failure { () throws(ValidationError) in try Validate.capacity(text) }
        #expect(error?.field == "capacity")
        #expect(error?.message == "capacity must be an integer between 0 and 100000, got \(Quoting.excerpt(text))")
    }

    @Test func exampleMessageAndHugeInput() {
        #expect(failure { () throws(ValidationError) in try Validate.capacity("abc") }?.message
            == #"capacity must be an integer between 0 and 100000, got "abc""#)
        let huge = failure { () throws(ValidationError) in try Validate.capacity(String(repeating: "9", count: 1 << 20)) }
        #expect(huge?.message == "capacity must be an integer between 0 and 100000, got \"\(String(repeating: "9", count: 40))\"…")
    }
}

@Suite struct TimeZoneValidationTests {
    @Test(arguments: ["Europe/Moscow", "UTC", "Etc/GMT-3", "America/Argentina/Buenos_Aires", "America/Port-au-Prince", "Asia/Kolkata"])
    func accepts(_ name: String) throws {
        #expect(try Validate.timeZone(" \(name) ") == name)
    }

    @Test(arguments: [
        "", "Mars/Base", "europe/moscow", "GMT+3", "UTC-05:00", "+03:00", "../../etc/passwd", "/Europe/Moscow",
        "Europe/Moscow\u{0}", "Europe/Moscow; DROP TABLE teams", "Европа/Москва",
    ])
    func rejects(_ name: String) {
        let error = failure { () throws(ValidationError) in try Validate.timeZone(name) }
        #expect(error?.field == "time_zone")
        #expect(error?.message.hasPrefix("time_zone must be an IANA time zone name such as \"Europe/Moscow\", got ") == true)
    }

    @Test func rejectsHugeInput() {
        #expect(failure { () throws(ValidationError) in try Validate.timeZone(oneMegabyte) } != nil)
    }
}

@Suite struct LocalTimeValidationTests {
    @Test func normalises() throws {
        #expect(try Validate.localTime("02:00") == "02:00:00")
        #expect(try Validate.localTime(" 00:00 ") == "00:00:00")
        #expect(try Validate.localTime("23:59:59") == "23:59:59")
        #expect(try Validate.localTime("07:05:09") == "07:05:09")
    }

    @Test(arguments: [
        "", "2:00", "24:00", "12:60", "12:00:60", "12", "12:00:00:00", "ab:cd", "１２:００", "12:00:", ":12:00",
        "+1:00", "-1:00", "12:0", "12:000", "12 :00", "2am", "12:00\u{0}",
    ])
    func rejects(_ text: String) {
        let error = failure { () throws(ValidationError) in try Validate.localTime(text, field: "at") }
        #expect(error == ValidationError(field: "at", message: "at must be a time of day as HH:MM or HH:MM:SS, got \(Quoting.excerpt(text))"))
    }

    @Test func rejectsHugeInput() {
        #expect(failure { () throws(ValidationError) in try Validate.localTime(oneMegabyte) } != nil)
    }
}

@Suite struct WebhookURLValidationTests {
    @Test func acceptsHTTPAndHTTPSWithAHost() throws {
        #expect(try Validate.webhookURL(" https://hooks.example.com/conveyor?team=rail ") == "https://hooks.example.com/conveyor?team=rail")
        #expect(try Validate.webhookURL("http://127.0.0.1:8080/digest") == "http://127.0.0.1:8080/digest")
        #expect(try Validate.webhookURL("http://[::1]:9/") == "http://[::1]:9/")
        // The column's check constraint reads the scheme case-sensitively: it is stored lowercase.
        #expect(try Validate.webhookURL("HTTPS://Hooks.Example.com/X") == "https://Hooks.Example.com/X")
        let longest = "https://h.example/" + String(repeating: "p", count: 2000 - 18)
        #expect(try Validate.webhookURL(longest) == longest)
    }

    @Test(arguments: ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "example.com/hook", "https//x", "mailto:a@b"])
    func rejectsOtherSchemes(_ text: String) {
        #expect(failure { () throws(ValidationError) in try Validate.webhookURL(text) }
            == ValidationError(field: "webhook_url", message: "webhook_url must be an http:// or https:// address, got \(Quoting.excerpt(text))"))
    }

    @Test(arguments: ["https://", "http:///path", "https://:443/x", "http://?q=1"])
    func rejectsAMissingHost(_ text: String) {
        #expect(failure { () throws(ValidationError) in try Validate.webhookURL(text) }?.message.hasPrefix("webhook_url must name a host") == true)
    }

    @Test(arguments: ["https://a.example/x y", "https://a.example/\u{A0}x", "https://a.example/\u{2003}x"])
    func rejectsSpaces(_ text: String) {
        #expect(failure { () throws(ValidationError) in try Validate.webhookURL(text) }?.message.hasPrefix("webhook_url must not contain spaces") == true)
    }

    @Test(arguments: ["https://a.example/\u{0}", "https://a.example/\u{1B}[0m", "https://a.example/\u{85}x"])
    func rejectsControlCharacters(_ text: String) {
        #expect(failure { () throws(ValidationError) in try Validate.webhookURL(text) }?.message.hasPrefix("webhook_url must not contain control characters") == true)
    }

    @Test func rejectsOversize() {
        let tooLong = "https://h.example/" + String(repeating: "p", count: 2001 - 18)
        #expect(failure { () throws(ValidationError) in try Validate.webhookURL(tooLong) }?.message
            == "webhook_url must be at most 2000 characters, got 2001")
        #expect(failure { () throws(ValidationError) in try Validate.webhookURL(oneMegabyte) } != nil)
    }
}

@Suite struct WebhookSecretValidationTests {
    @Test func keepsTheSecretExactly() throws {
        #expect(try Validate.webhookSecret(" sixteen chars!! ") == " sixteen chars!! ")
        #expect(try Validate.webhookSecret(String(repeating: "ж", count: 16)) == String(repeating: "ж", count: 16))
        #expect(try Validate.webhookSecret(String(repeating: "k", count: 1000)).count == 1000)
    }

    @Test func rejectsTheWrongLengthWithoutQuotingIt() {
        #expect(failure { () throws(ValidationError) in try Validate.webhookSecret("short-secret-15") }
            == ValidationError(field: "webhook_secret", message: "webhook_secret must be 16 to 1000 characters, got 15"))
        #expect(failure { () throws(ValidationError) in try Validate.webhookSecret(String(repeating: "k", count: 1001)) }?.message
            == "webhook_secret must be 16 to 1000 characters, got 1001")
        #expect(failure { () throws(ValidationError) in try Validate.webhookSecret(oneMegabyte) } != nil)
    }

    @Test(arguments: ["0123456789abcdef\n", "0123456789\u{0}abcdef", "0123456789abcdef\u{7F}", "\u{9B}0123456789abcdef"])
    func rejectsControlCharactersWithoutQuotingIt(_ text: String) {
        #expect(failure { () throws(ValidationError) in try Validate.webhookSecret(text) }
            == ValidationError(field: "webhook_secret", message: "webhook_secret must not contain control characters"))
    }
}
