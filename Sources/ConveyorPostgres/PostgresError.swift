import CLibPQ
import Foundation

/// An error from PostgreSQL or libpq, carrying the server's SQLSTATE.
///
/// `description` is safe to log and show to users (message and SQLSTATE only);
/// `debugDescription` adds detail, hint and the failing statement's name.
public struct PostgresError: Error, Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Where the error came from.
    public enum Kind: String, Sendable, Equatable {
        /// Could not connect, or the connection was lost.
        case connection
        /// The server rejected a statement.
        case server
        /// A value could not be decoded as the requested type.
        case decoding
    }

    public var kind: Kind
    /// Five-character SQLSTATE (`23505`), or nil for client-side errors.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?

    public init(kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
    }

    /// The SQLSTATE as a named code.
    public var code: SQLState? { sqlState.map(SQLState.init(rawValue:)) }

    /// True when the connection is gone and must be re-established
    /// (connection errors, class 08, the server shutting down or starting).
    public var isConnectionLoss: Bool {
        if kind == .connection { return true }
        guard let code else { return false }
        return code.errorClass == SQLState.connectionExceptionClass
            || [.adminShutdown, .crashShutdown, .cannotConnectNow].contains(code)
    }

    public var description: String {
        if let sqlState { return "\(message) (SQLSTATE \(sqlState))" }
        return message
    }

    public var debugDescription: String {
        var text = "PostgresError(\(kind.rawValue)): \(description)"
        if let detail { text += "; detail: \(detail)" }
        if let hint { text += "; hint: \(hint)" }
        return text
    }

    /// Builds the error from a failed result's diagnostic fields.
    static func from(result: OpaquePointer, connection: OpaquePointer?) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let pointer = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: pointer)
        }
        let primary = field("M") ?? String(cString: PQresultErrorMessage(result)).oneLine()
        let state = field("C")
        let connectionBad = connection.map { PQstatus($0) == CONNECTION_BAD } ?? false
        return PostgresError(
            kind: (state == nil && connectionBad) ? .connection : .server,
            sqlState: state,
            message: primary.isEmpty ? "unknown error" : primary,
            detail: field("D"),
            hint: field("H")
        )
    }

    /// Builds a connection error from the connection's last message.
    static func connection(_ connection: OpaquePointer?, context: String) -> PostgresError {
        let raw = connection.flatMap { PQerrorMessage($0) }.map { String(cString: $0) } ?? ""
        let message = raw.oneLine()
        return PostgresError(kind: .connection, message: message.isEmpty ? context : "\(context): \(message)")
    }
}

extension String {
    /// libpq messages may span lines (one per host tried); logs want one line.
    func oneLine() -> String {
        split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}
