import CLibPQ
import Foundation

/// The rows of one statement's result. Owns its `PGresult` and frees it once.
///
/// Not `Sendable`: decode rows into your own values on the connection's thread.
public final class PostgresRows: Sequence {
    private let result: OpaquePointer
    /// Number of rows returned.
    public let count: Int
    /// Rows inserted, updated or deleted (`PQcmdTuples`), 0 when not applicable.
    public let affectedRows: Int

    init(result: OpaquePointer) {
        self.result = result
        count = Int(PQntuples(result))
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    deinit { PQclear(result) }

    /// Row `index`; throws when there is no such row.
    public subscript(index: Int) -> PostgresRow {
        get throws {
            guard index >= 0 && index < count else {
                throw PostgresError(kind: .decoding, message: "row \(index) out of range: the result has \(count) rows")
            }
            return PostgresRow(rows: self, index: Int32(index))
        }
    }

    public func makeIterator() -> AnyIterator<PostgresRow> {
        var index = 0
        return AnyIterator {
            guard index < self.count else { return nil }
            defer { index += 1 }
            return PostgresRow(rows: self, index: Int32(index))
        }
    }

    /// The first row, if any.
    public var first: PostgresRow? { count > 0 ? PostgresRow(rows: self, index: 0) : nil }

    fileprivate func cell(row: Int32, column name: String) -> PostgresCell {
        let column = PQfnumber(result, name)
        guard column >= 0 else { return PostgresCell(column: name, text: nil, missing: true) }
        return cell(row: row, column: column, name: name)
    }

    fileprivate func cell(row: Int32, column: Int32, name: String? = nil) -> PostgresCell {
        let label = name ?? (column < PQnfields(result) ? String(cString: PQfname(result, column)) : "#\(column)")
        guard column >= 0, column < PQnfields(result) else { return PostgresCell(column: label, text: nil, missing: true) }
        if PQgetisnull(result, row, column) == 1 { return PostgresCell(column: label, text: nil, missing: false) }
        return PostgresCell(column: label, text: String(cString: PQgetvalue(result, row, column)), missing: false)
    }
}

/// One row of a result, read by column name or position.
public struct PostgresRow {
    fileprivate let rows: PostgresRows
    fileprivate let index: Int32

    public subscript(column: String) -> PostgresCell { rows.cell(row: index, column: column) }
    public subscript(column: Int) -> PostgresCell { rows.cell(row: index, column: Int32(column)) }
}

/// One value of a row in PostgreSQL's text format, with typed decoders that
/// throw `PostgresError(kind: .decoding)` naming the column.
public struct PostgresCell {
    public let column: String
    /// The raw text, nil for SQL NULL.
    public let text: String?
    let missing: Bool

    public var isNull: Bool { text == nil }

    private func failure(_ expected: String) -> PostgresError {
        if missing { return PostgresError(kind: .decoding, message: "no column \"\(column)\" in the result") }
        guard let text else { return PostgresError(kind: .decoding, message: "column \"\(column)\" is NULL, expected \(expected)") }
        return PostgresError(kind: .decoding, message: "column \"\(column)\": cannot read \"\(text.prefix(40))\" as \(expected)")
    }

    private func required<T>(_ expected: String, _ parse: (String) -> T?) throws -> T {
        guard let text, let value = parse(text) else { throw failure(expected) }
        return value
    }

    private func optional<T>(_ expected: String, _ parse: (String) -> T?) throws -> T? {
        if missing { throw failure(expected) }
        guard let text else { return nil }
        guard let value = parse(text) else { throw failure(expected) }
        return value
    }

    public func string() throws -> String { try required("text") { $0 } }
    public func optionalString() throws -> String? { try optional("text") { $0 } }
    public func int64() throws -> Int64 { try required("bigint", Int64.init) }
    public func optionalInt64() throws -> Int64? { try optional("bigint", Int64.init) }
    public func int() throws -> Int { try required("integer", Int.init) }
    public func optionalInt() throws -> Int? { try optional("integer", Int.init) }
    public func double() throws -> Double { try required("double", Double.init) }
    public func optionalDouble() throws -> Double? { try optional("double", Double.init) }
    public func decimal() throws -> Decimal { try required("numeric") { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) } }
    public func bool() throws -> Bool { try required("boolean", Self.parseBool) }
    public func date() throws -> Date { try required("timestamptz", PostgresTimestamp.parse) }
    public func optionalDate() throws -> Date? { try optional("timestamptz", PostgresTimestamp.parse) }
    public func textArray() throws -> [String] { try required("text[]", PostgresArrayParser.parse) }
    /// Decodes a json/jsonb column into a `Decodable` value.
    public func json<T: Decodable>(_ type: T.Type) throws -> T {
        let text = try string()
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw PostgresError(kind: .decoding, message: "column \"\(column)\": invalid JSON for \(T.self): \(error)")
        }
    }

    private static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "t", "true": return true
        case "f", "false": return false
        default: return nil
        }
    }
}

/// Parses one-dimensional array literals in PostgreSQL's text output
/// (`{a,"b c",NULL}`); NULL elements are dropped.
enum PostgresArrayParser {
    static func parse(_ text: String) -> [String]? {
        var scalars = Substring(text).unicodeScalars[...]
        guard scalars.first == "{", scalars.last == "}" else { return nil }
        scalars = scalars.dropFirst().dropLast()
        var items: [String] = []
        var current = String.UnicodeScalarView()
        var quoted = false, inQuotes = false, escaped = false
        func finish() {
            let value = String(current)
            if quoted || value != "NULL" { items.append(value) }
            current = String.UnicodeScalarView()
            quoted = false
        }
        if scalars.isEmpty { return [] }
        for scalar in scalars {
            if escaped { current.append(scalar); escaped = false; continue }
            switch scalar {
            case "\\" where inQuotes: escaped = true
            case "\"": inQuotes.toggle(); quoted = true
            case "," where !inQuotes: finish()
            default: current.append(scalar)
            }
        }
        guard !inQuotes, !escaped else { return nil }
        finish()
        return items
    }
}
