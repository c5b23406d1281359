import ConveyorProtocol
import Glibc

/// Why conveyorctl stops without success: the text for stderr and the exit status.
struct Failure: Error, Sendable, Equatable {
    /// Printed after `conveyorctl: `; may span lines (a usage error with its usage).
    var message: String
    var exitCode: Int32

    /// Exit status for a malformed command line.
    static let usageExitCode: Int32 = 2
    /// Exit status when the socket cannot be reached.
    static let cannotConnectExitCode: Int32 = 3

    /// An error the daemon reported, or one of its codes for a failure seen by the client.
    init(_ error: ProtocolError) {
        message = error.description
        exitCode = error.code.exitCode
    }

    init(_ code: ErrorCode, _ message: String) {
        self.init(ProtocolError(code, message))
    }

    private init(message: String, exitCode: Int32) {
        self.message = message
        self.exitCode = exitCode
    }

    /// A usage error; with `hint`, followed by where to read more.
    static func usage(_ message: String, hint: Bool = true) -> Failure {
        Failure(message: hint ? "\(message)\nTry 'conveyorctl --help'." : message, exitCode: usageExitCode)
    }

    /// The socket at `path` could not be connected to: one line saying which way and what to check.
    static func cannotConnect(to path: String, errorNumber: Int32) -> Failure {
        let reason =
            switch errorNumber {
            case ENOENT: "no socket at \(path): is conveyord running? (set --socket or CONVEYOR_ADMIN_SOCKET)"
            case EACCES, EPERM:
                "permission denied on \(path): you need to be in the socket's group (socket_group in conveyor.conf)"
            case ECONNREFUSED: "connection refused at \(path): stale socket, the daemon is not running"
            case ENAMETOOLONG: "socket path too long (at most 107 bytes): \(path)"
            case EAGAIN: "\(path): the daemon did not accept the connection within --timeout (its queue is full)"
            default: "cannot connect to \(path): \(String(cString: strerror(errorNumber)))"
            }
        return Failure(message: reason, exitCode: cannotConnectExitCode)
    }

    /// A failed system call on an open connection: the daemon went away or the socket broke.
    static func systemCall(_ name: String, errorNumber: Int32) -> Failure {
        Failure(.unavailable, "\(name): \(String(cString: strerror(errorNumber)))")
    }
}
