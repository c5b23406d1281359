import ConveyorProtocol
import Foundation
import Glibc

/// conveyorctl from `main`: parses the command line (``Action``), then sends, prompts or
/// prints, and gives the exit status (0, 2 usage, 3 cannot connect, or the error code's).
public enum CommandLineTool {
    public static func run(_ arguments: [String]) -> Int32 {
        let environment = ProcessInfo.processInfo.environment
        let display = { Display.standardOutput(environment: environment) }
        do throws(Failure) {
            switch try Action.parse(arguments, environment: environment) {
            case .print(let text):
                Output.print(text)
            case .prompt(let settings):
                guard isatty(STDIN_FILENO) == 1 else {
                    throw Failure.usage("missing COMMAND (the prompt needs a terminal)")
                }
                Prompt(session: AdminSession(settings: settings), display: display).run()
            case .run(let invocation):
                let session = AdminSession(settings: invocation.settings)
                if invocation.repeats { try Exchange.repeating(invocation.request, on: session, display: display) }
                try Exchange.run(invocation.request, streams: invocation.streams, on: session, display: display)
            }
            return 0
        } catch {
            Output.complain(error)
            return error.exitCode
        }
    }
}
