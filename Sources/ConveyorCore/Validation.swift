import Foundation

/// A rejected input value; `message` is a complete sentence for people that names the field.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The argument or column the value was meant for, e.g. `capacity`.
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { message }
}

/// Pure validators shared by the admin socket and SQL-facing code. Each trims surrounding
/// whitespace and returns the normalised value. "Control characters" are Unicode category Cc
/// (C0, DEL, C1, so NUL never reaches the database). Rejected values are echoed in messages
/// escaped and cut to 40 characters.
public enum Validate {
    public static let maxRefLength = 200
    public static let maxNameLength = 1000
    public static let maxSkillLength = 100
    public static let maxSkills = 50
    public static let capacityRange = 0...100_000
    /// Bidi controls (U+061C, U+200E–F, U+202A–E, U+2066–9), zero-width space,
    /// word joiner and byte-order mark: never part of what a ref should show.
    public static let invisibleInRefs: Set<Unicode.Scalar> = Set(
        [0x061C, 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF].map { Unicode.Scalar($0)! }
            + (0x202A...0x202E).map { Unicode.Scalar($0)! } + (0x2066...0x2069).map { Unicode.Scalar($0)! })

    /// A `ref` (external id): 1...200 characters, no control characters, no
    /// bidi controls and no invisible spaces (``invisibleInRefs``), which would
    /// make two refs look alike or turn the text printed around a ref around.
    /// Zero-width joiners stay: emoji and several scripts are written with them.
    public static func ref(_ text: String, field: String = "ref") throws(ValidationError) -> String {
        let value = trimmed(text)
        guard !value.isEmpty else { throw ValidationError(field: field, message: "\(field) must not be empty") }
        try checkLength(value, max: maxRefLength, field: field)
        try checkNoControlCharacters(value, field: field)
        if value.unicodeScalars.contains(where: invisibleInRefs.contains) {
            throw ValidationError(
                field: field,
                message: "\(field) must not contain bidi controls or invisible spaces, got \(Quoting.excerpt(value))")
        }
        return value
    }

    /// A display name: at most 1000 characters (empty allowed), no control characters.
    public static func name(_ text: String, field: String = "name") throws(ValidationError) -> String {
        let value = trimmed(text)
        try checkLength(value, max: maxNameLength, field: field)
        try checkNoControlCharacters(value, field: field)
        return value
    }

    /// A comma-separated skill list: entries trimmed, empty ones dropped, duplicates removed
    /// (first kept, case-sensitive), each at most 100 characters, at most 50 entries.
    public static func skills(_ commaSeparated: String, field: String = "skills") throws(ValidationError) -> [String] {
        var result: [String] = []
        var seen: Set<String> = []
        for part in commaSeparated.split(separator: ",", omittingEmptySubsequences: true) {
            let skill = trimmed(String(part))
            guard !skill.isEmpty else { continue }
            try checkLength(skill, max: maxSkillLength, field: field, what: "each of \(field)")
            try checkNoControlCharacters(skill, field: field)
            guard seen.insert(skill).inserted else { continue }
            result.append(skill)
            guard result.count <= maxSkills else {
                throw ValidationError(field: field, message: "\(field) must list at most \(maxSkills) entries")
            }
        }
        return result
    }

    /// A capacity: a plain decimal integer in 0...100000.
    public static func capacity(_ text: String, field: String = "capacity") throws(ValidationError) -> Int {
        let value = trimmed(text)
        guard !value.isEmpty, value.utf8.count <= 6, value.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let number = Int(value), capacityRange.contains(number)
        else {
            throw ValidationError(
                field: field,
                message: "\(field) must be an integer between \(capacityRange.lowerBound) and \(capacityRange.upperBound), got \(Quoting.excerpt(text))"
            )
        }
        return number
    }

    /// An IANA time zone name that Foundation knows, e.g. `Europe/Moscow`. Bare offsets such as
    /// `GMT+3` are refused: Foundation and PostgreSQL read their sign in opposite ways
    /// (`Etc/GMT-3` is the unambiguous IANA spelling).
    public static func timeZone(_ text: String, field: String = "time_zone") throws(ValidationError) -> String {
        let value = trimmed(text)
        let allowed = value.utf8.allSatisfy { byte in
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
                || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "+")
        }
        let bareOffset = ["GMT+", "GMT-", "UTC+", "UTC-"].contains { value.hasPrefix($0) }
        guard !value.isEmpty, value.utf8.count <= 64, allowed, !bareOffset, TimeZone(identifier: value) != nil else {
            throw ValidationError(
                field: field,
                message: "\(field) must be an IANA time zone name such as \"Europe/Moscow\", got \(Quoting.excerpt(text))"
            )
        }
        return value
    }

    /// A local time of day, `HH:MM` or `HH:MM:SS` (24-hour, two digits each), normalised to `HH:MM:SS`.
    public static func localTime(_ text: String, field: String = "scan_local_time") throws(ValidationError) -> String {
        let parts = trimmed(text).split(separator: ":", omittingEmptySubsequences: false)
        let limits = [23, 59, 59]
        let valid = (2...3).contains(parts.count) && zip(parts, limits).allSatisfy { part, limit in
            part.utf8.count == 2 && part.utf8.allSatisfy { (0x30...0x39).contains($0) } && Int(part)! <= limit
        }
        guard valid else {
            throw ValidationError(
                field: field, message: "\(field) must be a time of day as HH:MM or HH:MM:SS, got \(Quoting.excerpt(text))"
            )
        }
        return (parts.map(String.init) + (parts.count == 2 ? ["00"] : [])).joined(separator: ":")
    }

    public static let maxWebhookURLLength = 2000
    public static let webhookSecretLength = 16...1000

    /// A webhook address: `http://` or `https://` (scheme normalised to lowercase), a host, at
    /// most 2000 characters, no spaces or control characters. The rules of the column's check
    /// constraint (lengths in Unicode scalars, as PostgreSQL counts), with a host required too.
    public static func webhookURL(_ text: String, field: String = "webhook_url") throws(ValidationError) -> String {
        let value = trimmed(text)
        guard value.unicodeScalars.count <= maxWebhookURLLength else {
            throw ValidationError(field: field, message: "\(field) must be at most \(maxWebhookURLLength) characters, got \(value.unicodeScalars.count)")
        }
        try checkNoControlCharacters(value, field: field)
        guard !value.unicodeScalars.contains(where: \.properties.isWhitespace) else {
            throw ValidationError(field: field, message: "\(field) must not contain spaces, got \(Quoting.excerpt(value))")
        }
        guard let separator = value.range(of: "://"), ["http", "https"].contains(value[..<separator.lowerBound].lowercased()) else {
            throw ValidationError(field: field, message: "\(field) must be an http:// or https:// address, got \(Quoting.excerpt(value))")
        }
        let scheme = value[..<separator.lowerBound].lowercased()
        let normalised = scheme + value[separator.lowerBound...]
        guard let host = URLComponents(string: normalised)?.host, !host.isEmpty else {
            throw ValidationError(field: field, message: "\(field) must name a host, as in https://hooks.example.com/conveyor, got \(Quoting.excerpt(value))")
        }
        return normalised
    }

    /// A webhook secret: 16 to 1000 characters (Unicode scalars), no control characters, kept
    /// exactly as given (not trimmed: it is a key). Messages never quote it.
    public static func webhookSecret(_ text: String, field: String = "webhook_secret") throws(ValidationError) -> String {
        let length = text.unicodeScalars.count
        guard webhookSecretLength.contains(length) else {
            throw ValidationError(
                field: field,
                message: "\(field) must be \(webhookSecretLength.lowerBound) to \(webhookSecretLength.upperBound) characters, got \(length)"
            )
        }
        guard !containsControlCharacters(text) else {
            throw ValidationError(field: field, message: "\(field) must not contain control characters")
        }
        return text
    }

    // MARK: - Helpers

    /// The years a time argument may name: every date a person means, and
    /// none that a program reading conveyor's tables could fail to hold.
    public static let timeRange = ISO8601.parse("1970-01-01T00:00:00Z")!...ISO8601.parse("9999-12-31T23:59:59Z")!

    /// An ISO 8601 time such as `2026-12-24T18:00:00Z`, from 1970 to 9999.
    public static func time(_ text: String, field: String) throws(ValidationError) -> Date {
        guard let date = ISO8601.parse(trimmed(text)) else {
            throw ValidationError(field: field, message: "\(field) must be an ISO 8601 time such as 2026-12-24T18:00:00Z, not \(Quoting.excerpt(text))")
        }
        guard timeRange.contains(date) else {
            throw ValidationError(field: field, message: "\(field) must be between 1970 and 9999, not \(Quoting.excerpt(text))")
        }
        return date
    }

    private static func trimmed(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func checkLength(
        _ value: String, max: Int, field: String, what: String? = nil
    ) throws(ValidationError) {
        // A Character is at least one UTF-8 byte: skip the grapheme count when bytes already fit.
        guard value.utf8.count > max, value.count > max else { return }
        throw ValidationError(
            field: field, message: "\(what ?? field) must be at most \(max) characters, got \(value.count)"
        )
    }

    private static func checkNoControlCharacters(_ value: String, field: String) throws(ValidationError) {
        guard containsControlCharacters(value) else { return }
        throw ValidationError(field: field, message: "\(field) must not contain control characters, got \(Quoting.excerpt(value))")
    }

    private static func containsControlCharacters(_ value: String) -> Bool {
        value.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
