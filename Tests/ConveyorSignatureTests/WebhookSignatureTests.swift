import ConveyorSignature
import Testing

/// The `Conveyor-Signature` scheme of `docs/webhooks.md`: a vector computed
/// independently (Python's hmac over `1767225600.{"team":"rail"}`), and every
/// way a verifier refuses.
struct WebhookSignatureTests {
    let secret = "whsec-0123456789abcdef"
    let body = Array(#"{"team":"rail"}"#.utf8)
    let timestamp: Int64 = 1_767_225_600
    let expectedHex = "55f5c97d1b5d4db6dd151200ec43678f3383b081813c476b1d86dadfe7a139bb"

    @Test func signsTheTimestampADotAndTheBody() {
        #expect(WebhookSignature.header(body: body, secret: secret, timestamp: timestamp) == "t=\(timestamp),v1=\(expectedHex)")
    }

    @Test func verifiesItsOwnHeaderAndReturnsTheTimestamp() throws {
        let header = WebhookSignature.header(body: body, secret: secret, timestamp: timestamp)
        #expect(try WebhookSignature.verify(header: header, body: body, secret: secret, now: timestamp + 10) == timestamp)
    }

    @Test func acceptsUppercaseHexSpacesAndExtraEntries() throws {
        let header = "v0=legacy, t=\(timestamp), v1=\(String(repeating: "0", count: 64)), v1=\(expectedHex.uppercased())"
        #expect(try WebhookSignature.verify(header: header, body: body, secret: secret, now: timestamp) == timestamp)
    }

    @Test func refusesAnotherBodyOrSecret() {
        let header = WebhookSignature.header(body: body, secret: secret, timestamp: timestamp)
        #expect(throws: WebhookSignature.Rejection.mismatch) {
            try WebhookSignature.verify(header: header, body: Array(#"{"team":"sea"}"#.utf8), secret: secret, now: timestamp)
        }
        #expect(throws: WebhookSignature.Rejection.mismatch) {
            try WebhookSignature.verify(header: header, body: body, secret: secret + "x", now: timestamp)
        }
    }

    @Test func refusesAnotherTimestampWithTheSameCode() {
        #expect(throws: WebhookSignature.Rejection.mismatch) {
            try WebhookSignature.verify(header: "t=\(timestamp + 1),v1=\(expectedHex)", body: body, secret: secret, now: timestamp)
        }
    }

    @Test func refusesReplaysOutsideTheTolerance() throws {
        let header = WebhookSignature.header(body: body, secret: secret, timestamp: timestamp)
        let tolerance = WebhookSignature.defaultTolerance
        #expect(try WebhookSignature.verify(header: header, body: body, secret: secret, now: timestamp + tolerance) == timestamp)
        #expect(try WebhookSignature.verify(header: header, body: body, secret: secret, now: timestamp - tolerance) == timestamp)
        #expect(throws: WebhookSignature.Rejection.outsideTolerance(age: tolerance + 1)) {
            try WebhookSignature.verify(header: header, body: body, secret: secret, now: timestamp + tolerance + 1)
        }
        #expect(throws: WebhookSignature.Rejection.outsideTolerance(age: -61)) {
            try WebhookSignature.verify(header: header, body: body, secret: secret, now: timestamp - 61, tolerance: 60)
        }
    }

    @Test(arguments: [
        "", "t=1767225600", "v1=55f5c97d1b5d4db6dd151200ec43678f3383b081813c476b1d86dadfe7a139bb",
        "t=-5,v1=55f5c97d1b5d4db6dd151200ec43678f3383b081813c476b1d86dadfe7a139bb",
        "t=1767225600,v1=55f5c97d", "t=1767225600,v1=zzf5c97d1b5d4db6dd151200ec43678f3383b081813c476b1d86dadfe7a139bb",
        "t=1767225600;v1=55f5c97d1b5d4db6dd151200ec43678f3383b081813c476b1d86dadfe7a139bb",
    ])
    func refusesMalformedHeaders(header: String) {
        #expect(throws: WebhookSignature.Rejection.malformed) {
            try WebhookSignature.verify(header: header, body: body, secret: secret, now: timestamp)
        }
    }
}
