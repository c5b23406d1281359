import Foundation

/// A value that can be sent to PostgreSQL as a `$n` parameter, in text format.
///
/// Values only ever enter SQL as binds: there is no string interpolation API.
public protocol PostgresBindable: Sendable {
    /// The parameter's text representation, or nil for SQL NULL.
    var postgresText: String? { get }
}

extension String: PostgresBindable { public var postgresText: String? { self } }
extension Int: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int32: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int64: PostgresBindable { public var postgresText: String? { String(self) } }
extension Double: PostgresBindable { public var postgresText: String? { String(self) } }
extension Bool: PostgresBindable { public var postgresText: String? { self ? "t" : "f" } }
extension Decimal: PostgresBindable { public var postgresText: String? { "\(self)" } }

extension Date: PostgresBindable {
    /// ISO 8601 in UTC with microseconds, which `timestamptz` parses exactly.
    public var postgresText: String? { PostgresTimestamp.format(self) }
}

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public var postgresText: String? { self?.postgresText }
}

extension Array: PostgresBindable where Element: PostgresArrayElement {
    /// A PostgreSQL array literal: `{"a","b \"c\""}`; cast it in SQL (`$1::text[]`).
    public var postgresText: String? {
        "{" + map { $0.arrayLiteralElement }.joined(separator: ",") + "}"
    }
}

/// A value that can appear inside a PostgreSQL array literal.
public protocol PostgresArrayElement: Sendable {
    var arrayLiteralElement: String { get }
}

extension String: PostgresArrayElement {
    public var arrayLiteralElement: String {
        var quoted = "\""
        for character in unicodeScalars {
            if character == "\"" || character == "\\" { quoted.unicodeScalars.append("\\") }
            quoted.unicodeScalars.append(character)
        }
        return quoted + "\""
    }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    public var arrayLiteralElement: String { self?.arrayLiteralElement ?? "NULL" }
}

extension Double: PostgresArrayElement { public var arrayLiteralElement: String { String(self) } }
extension Int64: PostgresArrayElement { public var arrayLiteralElement: String { String(self) } }
extension Int: PostgresArrayElement { public var arrayLiteralElement: String { String(self) } }
extension Int32: PostgresArrayElement { public var arrayLiteralElement: String { String(self) } }
extension Bool: PostgresArrayElement { public var arrayLiteralElement: String { self ? "t" : "f" } }
extension Date: PostgresArrayElement { public var arrayLiteralElement: String { PostgresTimestamp.format(self) } }
