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

    /// The fixed process exit status `conveyorctl` uses for this error, 10 to 22 in
    /// declaration order. Scripts may rely on it; `docs/protocol.md` lists them
    /// (``markdownReference``).
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

extension ErrorCode {
    /// What the code means, for people: the meaning column of `docs/protocol.md`.
    public var summary: String {
        switch self {
        case .parseError:
            "the line is not JSON, not UTF-8, or (words form) has an unterminated quote"
        case .badRequest:
            "well-formed but not a request: no string `cmd`, a malformed command name, `args` not an object, "
                + "`id` neither string nor number, a word without `=` or a key given twice"
        case .unknownCommand: "no such command (`help` lists them)"
        case .invalidArgument:
            "an argument is missing, not taken by the command, or has a value it refuses (also a value the "
                + "database refuses, SQLSTATE class 22 or 23)"
        case .notFound: "the team, rep, account, job or alert named does not exist"
        case .conflict:
            "the change clashes with what is there: a duplicate name or reference, or a record in a state the "
                + "command does not apply to; for `config.reload`, a config file that does not load (the running "
                + "configuration stays)"
        case .permissionDenied: "the connection's role is below the command's minimum role"
        case .tooLarge: "the request line is longer than `max_line_bytes`; the daemon closes the connection"
        case .tooManyConnections:
            "`max_connections` connections are open; sent instead of the greeting, then the connection closes"
        case .unavailable:
            "the database cannot be reached (the daemon retries; try again), or a `watch` fell too far behind"
        case .timeout: "the database cancelled the statement (a statement timeout)"
        case .shuttingDown: "the daemon is shutting down and takes no new work"
        case .internal: "a bug or an unexpected failure in the daemon; its log says more"
        }
    }

    /// The error-code table of `docs/protocol.md`: every code in declaration order with its
    /// meaning and ``exitCode``.
    public static var markdownReference: String {
        Markdown.table(
            ["code", "meaning", "`conveyorctl` exit"],
            allCases.map { [Markdown.code($0.rawValue), $0.summary, String($0.exitCode)] })
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
