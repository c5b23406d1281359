import ConveyorProtocol
import Glibc

/// One request sent and its answer printed: a stream's events on standard output as they
/// come (one line each: for people, or the event's JSON with `--json`), a long command's
/// progress events on standard error, the result on standard output (``ResultView``, or
/// the result's JSON with `--json`).
enum Exchange {
    static func run(
        _ request: Request, streams: Bool, on session: AdminSession, display: @escaping () -> Display
    ) throws(Failure) {
        let json = session.settings.json
        let print = { (event: JSONValue, descriptor: Int32) in
            if let line = json ? event.compactString : EventView.line(event, display: display()) {
                Output.write(line + "\n", to: descriptor)
            }
        }
        if streams {
            try session.stream(request) { print($0, STDOUT_FILENO) }
        } else {
            let result = try session.answer(request) { print($0, STDERR_FILENO) }
            Output.write(text(of: result, for: request, json: json, display: display()))
        }
    }

    /// The text printed for `result`.
    static func text(of result: JSONValue, for request: Request, json: Bool, display: Display) -> String {
        json ? result.compactString + "\n" : ResultView.text(command: request.cmd, result: result, display: display)
    }

    /// `--watch`: the request again every ``Invocation/repeatInterval`` until interrupted or
    /// an error. On a terminal each run replaces the screen under an `Every 2 s: …` line;
    /// otherwise runs follow each other (with `--json`, one line each).
    static func repeating(_ request: Request, on session: AdminSession, display: @escaping () -> Display) throws(Failure) -> Never {
        let interval = Invocation.repeatInterval.components.seconds
        let command = ([request.cmd] + request.args.sorted { $0.key < $1.key }.map { "\($0.key)=\(CellText.plain($0.value))" })
            .joined(separator: " ")
        while true {
            let result = try session.answer(request) { _ in }
            let shown = display()
            let body = text(of: result, for: request, json: session.settings.json, display: shown)
            let header = shown.paint("Every \(interval) s: \(TerminalText.escaped(command))  \(ReadableTime.stamp(shown.now))", .dim)
            switch (session.settings.json, shown.width) {
            case (true, _): Output.write(body)
            case (false, nil): Output.write(header + "\n\n" + body + "\n")
            case (false, _?): Output.write("\u{1B}[H\u{1B}[2J" + header + "\n\n" + body)
            }
            sleep(UInt32(interval))
        }
    }
}
