import ConveyorProtocol

/// A line typed at the prompt, read as the command line is read: any line but a JSON
/// request is split into words as the socket splits them (quotes and escapes) and parsed by
/// the command line's own tree (``Action/parse(_:environment:)``), so `rep add --team rail`
/// and `rep.add team=rail` send at the prompt what they send on the command line.
enum PromptLine {
    /// What a line asks for.
    enum Reading: Equatable {
        case send(Request)
        /// Help, printed here.
        case print(String)
    }

    /// - Throws: the ``Failure`` the command line would give for the same words; also a
    ///   usage ``Failure`` for conveyorctl's own options (the prompt's are those it was
    ///   opened with) and for a command that streams (it would hold the connection).
    static func read(_ line: String) throws(Failure) -> Reading {
        var request: Request
        if line.drop(while: \.isWhitespace).hasPrefix("{") {
            do {
                request = try Request.parse(line: line)
            } catch {
                throw Failure(error)
            }
            request.id = "conveyorctl"
        } else {
            let words: [String]
            do {
                words = try Request.words(of: line)
            } catch {
                throw Failure(error)
            }
            if let option = OptionWords.firstGiven(GlobalOptions.names, in: words) {
                throw Failure.usage("--\(option) goes on the command line that opens the prompt", hint: false)
            }
            switch try Action.parse(words, environment: [:]) {
            case .run(let invocation): request = invocation.request
            case .print(let text): return .print(text)
            case .prompt: throw Failure.usage("missing COMMAND")
            }
        }
        if CommandCatalog.spec(named: request.cmd)?.streams == true {
            throw Failure.usage("\(request.cmd) streams until interrupted: run `conveyorctl \(request.cmd)` instead", hint: false)
        }
        return .send(request)
    }
}
