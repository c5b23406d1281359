import ConveyorProtocol
import Foundation

/// The prose of `conveyorctl --help` (and of the manual) around argument-parser's lists.
enum HelpText {
    static let abstract = "The admin client of conveyord: sends a command over the admin socket and prints the result."

    static let usage = """
        conveyorctl [<options>] <command> [<subcommand>] [--<argument> <value> ...] [<key>=<value> ...]
        conveyorctl [<options>]    (on a terminal: a conveyor> prompt)
        """

    static var discussion: String {
        """
        Every command of the protocol is a word or two with an option per argument, \
        `conveyorctl rep add --team rail --ref ivan --role account_manager`, and is also taken in \
        the protocol's words, COMMAND [key=value ...] with its protocol name: \
        `conveyorctl rep.add team=rail ref=ivan role=account_manager`; both may be mixed. The \
        commands are listed once, in the first form. A command the catalog does not know is sent \
        as it is, in the second. `conveyorctl help` asks the daemon which commands it serves; \
        `conveyorctl <command> --help` describes one here.

        Without a command, on a terminal, conveyorctl opens a conveyor> prompt: each line is a \
        command in either form (or a JSON request), without conveyorctl's own options.

        Results print as tables sized to the terminal, times as UTC with how long ago; --json prints \
        the protocol's result instead. Colour only on a terminal, never with NO_COLOR set.

        Environment: CONVEYOR_ADMIN_SOCKET (the socket when --socket is not given), NO_COLOR.

        Exit status:
        \(exitStatuses.map { "  \($0.code.padding(toLength: 4, withPad: " ", startingAt: 0))\($0.meaning)" }.joined(separator: "\n"))
        """
    }

    /// Every exit status with its meaning: 0, 2, 3, then one per ``ErrorCode``.
    static var exitStatuses: [(code: String, meaning: String)] {
        let clientSide: [ErrorCode: String] = [
            .unavailable: "; also: the connection closed before the answer",
            .timeout: "; also: no answer within --timeout",
            .internal: "; also: a line from the daemon over 16 MiB or outside the protocol",
        ]
        return [
            ("0", "ok"), ("\(Failure.usageExitCode)", "usage error (the command line)"),
            ("\(Failure.cannotConnectExitCode)", "cannot connect to the socket"),
        ] + ErrorCode.allCases.map { ("\($0.exitCode)", $0.rawValue + (clientSide[$0] ?? "")) }
    }
}
