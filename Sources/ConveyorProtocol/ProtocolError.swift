/// The closed set of error codes of the admin protocol, with the raw values used on the wire.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    case parseError = "parse_error"
    case badRequest = "bad_request"
    case unknownCommand = "unknown_command"
    case invalidArgument = "invalid_argument"
    case notFound = "not_found"
    case conflict
    case permissionDenied = "permission_denied"
    case tooLarge = "too_large"
    case tooManyConnections = "too_many_connections"
    case unavailable
    case timeout
    case shuttingDown = "shutting_down"
    case `internal`

    /// The fixed process exit status `conveyorctl` uses for this error. Scripts may rely on it.
    ///
    /// | code | exit |
    /// | --- | --- |
    /// | `parse_error` | 10 |
    /// | `bad_request` | 11 |
    /// | `unknown_command` | 12 |
    /// | `invalid_argument` | 13 |
    /// | `not_found` | 14 |
    /// | `conflict` | 15 |
    /// | `permission_denied` | 16 |
    /// | `too_large` | 17 |
    /// | `too_many_connections` | 18 |
    /// | `unavailable` | 19 |
    /// | `timeout` | 20 |
    /// | `shutting_down` | 21 |
    /// | `internal` | 22 |
    ///
    /// `conveyorctl` itself also exits 0 on success, 2 on a usage error and 3 when it
    /// cannot connect to the socket.
    public var exitCode: Int32 {
        switch self {
        case .parseError: 10
        case .badRequest: 11
        case .unknownCommand: 12
        case .invalidArgument: 13
        case .notFound: 14
        case .conflict: 15
        case .permissionDenied: 16
        case .tooLarge: 17
        case .tooManyConnections: 18
        case .unavailable: 19
        case .timeout: 20
        case .shuttingDown: 21
        case .internal: 22
        }
    }
}

/// An error as the protocol reports it: a code from the closed set and a message for humans.
public struct ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
