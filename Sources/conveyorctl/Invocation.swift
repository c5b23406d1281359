import ConveyorProtocol

/// The command line, parsed: where to connect, how to print, and what to send.
struct Invocation {
    static let defaultSocketPath = "/run/conveyor/admin.sock"
    static let defaultTimeout = Duration.seconds(60)

    var socketPath: String
    var json = false
    /// Bound on connecting and waiting for the response; `nil` waits forever.
    var timeout: Duration? = Invocation.defaultTimeout
    var request: Request

    /// Parses the arguments after the program name; `nil` means `--help` was asked for.
    ///
    /// Options come before COMMAND (`--name VALUE` or `--name=VALUE`); every word after
    /// COMMAND is `key=value`, split at the first `=`, the value sent as a string just like
    /// the protocol's words form.
    static func parse(_ arguments: [String], environmentSocket: String?) throws(Failure) -> Invocation? {
        var socketPath = environmentSocket.flatMap { $0.isEmpty ? nil : $0 } ?? defaultSocketPath
        var json = false
        var timeout: Duration? = defaultTimeout
        var rest = arguments[...]

        options: while let argument = rest.first, argument.hasPrefix("-") {
            rest.removeFirst()
            let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            func value() throws(Failure) -> String {
                if parts.count == 2 { return String(parts[1]) }
                guard let next = rest.popFirst() else { throw .usage("\(name) needs a value") }
                return next
            }
            switch name {
            case "-h", "--help": return nil
            case "--json": json = true
            case "--socket": socketPath = try value()
            case "--timeout": timeout = try parseTimeout(try value())
            case "--": break options
            default: throw .usage("unknown option \(argument)")
            }
        }

        guard let command = rest.popFirst() else { throw .usage("missing COMMAND") }
        var args: [String: JSONValue] = [:]
        for word in rest {
            let scalars = word.unicodeScalars
            guard let equals = scalars.firstIndex(of: "="), equals != scalars.startIndex else {
                throw .usage("expected key=value after the command, got '\(word)'")
            }
            let key = String(scalars[..<equals])
            guard args.updateValue(.string(String(scalars[scalars.index(after: equals)...])), forKey: key) == nil else {
                throw .usage("argument '\(key)' given twice")
            }
        }
        return Invocation(
            socketPath: socketPath, json: json, timeout: timeout,
            request: Request(id: "conveyorctl", cmd: command, args: args))
    }

    /// Seconds, 0 (no limit) to 86400, fractions allowed.
    private static func parseTimeout(_ text: String) throws(Failure) -> Duration? {
        guard let seconds = Double(text), (0...86400).contains(seconds) else {
            throw .usage("--timeout takes seconds from 0 (no limit) to 86400, got '\(text)'")
        }
        return seconds == 0 ? nil : .seconds(seconds)
    }

    /// The text of `--help`: synopsis, options, exit statuses and the commands this build knows.
    static func helpText() -> String {
        let clientSide: [ErrorCode: String] = [
            .unavailable: "; also: the connection closed before the response",
            .timeout: "; also: no response within --timeout",
            .internal: "; also: a line from the daemon over 16 MiB or outside the protocol",
        ]
        let statuses =
            [
                ("0", "ok"), ("\(Failure.usageExitCode)", "usage error"),
                ("\(Failure.cannotConnectExitCode)", "cannot connect to the socket"),
            ]
            + ErrorCode.allCases.map { ("\($0.exitCode)", $0.rawValue + (clientSide[$0] ?? "")) }
        let synopsis = """
            usage: conveyorctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [key=value ...]

            Sends one command to conveyord over its admin socket and prints the result.

              --socket PATH      the admin socket (default: $CONVEYOR_ADMIN_SOCKET,
                                 else \(defaultSocketPath))
              --json             print the raw JSON result on one line instead of tables
              --timeout SECONDS  give up when the daemon has not answered within SECONDS
                                 (default \(defaultTimeout.components.seconds); 0 waits forever); `watch` prints events
                                 without limit until the daemon closes or Ctrl-C
              -h, --help         show this help; `conveyorctl help` asks the daemon instead

            Exit status:

            """
        return synopsis + statuses.map { "  \(Rendering.padded($0.0, to: 4))\($0.1)\n" }.joined()
            + "\nCommands (minimum role in parentheses):\n\n" + Rendering.help(CommandCatalog.helpResult())
    }
}
