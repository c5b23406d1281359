import Foundation

/// The interactive mode (conveyorctl without a command, on a terminal): at `conveyor> `,
/// each line is a command as on the command line, friendly (`rep add --team rail --name
/// "Ivan Petrov"`) or in the protocol's words (`rep.add team=rail name="Ivan Petrov"`) or
/// JSON (``PromptLine``), sent over one connection; a line that fails prints why and the
/// prompt goes on. `history` lists the lines entered, `exit`, `quit` or Ctrl-D ends. Up/down
/// recall earlier lines, Tab completes command names (``LineEditor``, ``CommandCompletion``).
struct Prompt {
    static let prompt = "conveyor> "
    static let localCommands = ["history", "exit", "quit"]

    let session: AdminSession
    let display: () -> Display

    func run() {
        let editor = LineEditor(
            completions: CommandCompletion.candidates(after:), input: RawMode.readByte, output: { Output.write($0) })
        Output.write(
            "conveyorctl \(TerminalText.escaped(session.settings.socketPath)): commands as on the command line "
                + "(rep add --team rail, or rep.add team=rail); help, history, exit\n")
        // The editor in raw mode; a terminal that refuses raw mode gets plain lines.
        while let line = RawMode.during({ editor.readLine(prompt: Self.prompt) }) ?? Swift.readLine() {
            switch line.trimmingCharacters(in: .whitespaces) {
            case "": continue
            case "exit", "quit": return
            case "history":
                Output.write(editor.history.enumerated().map { "\($0 + 1)  \(TerminalText.escaped($1))\n" }.joined())
            default:
                do throws(Failure) {
                    try run(line: line)
                } catch {
                    Output.complain(error)
                }
            }
        }
    }

    /// Runs one command line typed at the prompt and prints its answer.
    ///
    /// - Throws: why the line could not run (``PromptLine/read(_:)``) or the daemon's error;
    ///   the session stays usable for the next line.
    func run(line: String) throws(Failure) {
        switch try PromptLine.read(line) {
        case .print(let text): Output.print(text)
        case .send(let request): try Exchange.run(request, streams: false, on: session, display: display)
        }
    }
}
