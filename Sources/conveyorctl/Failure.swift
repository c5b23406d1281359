import ConveyorProtocol
import Glibc

/// Why `conveyorctl` stops without success: the line for stderr and the exit status.
struct Failure: Error {
    /// Printed after `conveyorctl: `.
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

    static func usage(_ message: String) -> Failure {
        Failure(message: "\(message)\nTry 'conveyorctl --help'.", exitCode: usageExitCode)
    }

    static func cannotConnect(to path: String, errorNumber: Int32) -> Failure {
        Failure(
            message: "cannot connect to \(path): \(String(cString: strerror(errorNumber)))",
            exitCode: cannotConnectExitCode)
    }

    /// A failed system call on an open connection: the daemon went away or the socket broke.
    static func systemCall(_ name: String, errorNumber: Int32) -> Failure {
        Failure(.unavailable, "\(name): \(String(cString: strerror(errorNumber)))")
    }
}
