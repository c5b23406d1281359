import ConveyorProtocol
import Foundation

/// The interactive mode (conveyorctl without a command, on a terminal): at `conveyor> `,
/// each line is a command in the protocol's form, words (`rep.add team=rail name="Ivan
/// Petrov"`) or JSON, sent over one connection; `history` lists the lines entered,
/// `exit`, `quit` or Ctrl-D ends. Up/down recall earlier lines, Tab completes command
/// names (``LineEditor``).
struct Prompt {
    static let prompt = "conveyor> "
    static let localCommands = ["history", "exit", "quit"]

    let session: AdminSession
    let display: () -> Display

    func run() {
        let editor = LineEditor(
            completions: CommandCatalog.all.map(\.name) + Self.localCommands, input: RawMode.readByte,
            output: { Output.write($0) })
        Output.write("conveyorctl \(TerminalText.escaped(session.settings.socketPath)): commands as the protocol's words; help, history, exit\n")
        // The editor in raw mode; a terminal that refuses raw mode gets plain lines.
        while let line = RawMode.during({ editor.readLine(prompt: Self.prompt) }) ?? Swift.readLine() {
            switch line.trimmingCharacters(in: .whitespaces) {
            case "": continue
            case "exit", "quit": return
            case "history":
                Output.write(editor.history.enumerated().map { "\($0 + 1)  \(TerminalText.escaped($1))\n" }.joined())
            default: send(line)
            }
        }
    }

    /// Runs one line; a failure is printed and the prompt goes on.
    private func send(_ line: String) {
        do throws(Failure) {
            var request: Request
            do {
                request = try Request.parse(line: line)
            } catch {
                throw Failure(error)
            }
            request.id = "conveyorctl"
            if CommandCatalog.spec(named: request.cmd)?.streams == true {
                throw Failure.usage("\(request.cmd) streams until interrupted: run `conveyorctl \(request.cmd)` instead", hint: false)
            }
            try Exchange.run(request, streams: false, on: session, display: display)
        } catch {
            Output.complain(error)
        }
    }
}
