import ArgumentParser
import ConveyorCore
import ConveyorProtocol

extension Action {
    /// Parses the arguments after the program name through ``ConveyorctlCommand``.
    /// `help` followed by command words (`help rep add`) describes that command here, as
    /// argument-parser's own `help` would; `help` alone asks the daemon.
    ///
    /// - Throws: a usage ``Failure`` (exit 2) for anything but a well-formed command line.
    static func parse(_ arguments: [String], environment: [String: String]) throws(Failure) -> Action {
        let command: any CommandWords
        switch try parsed(arguments) {
        case .text(let text): return .print(text)
        case .command(let words): command = words
        }
        let global = command.global
        let settings = Settings(
            socketPath: global.socket ?? environment["CONVEYOR_ADMIN_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
                ?? GlobalOptions.defaultSocketPath,
            json: global.json, timeout: global.timeout.limit)
        guard let name = command.commandName else {
            guard !global.watch else { throw Failure.usage("--watch needs a command to repeat") }
            return .prompt(settings)
        }
        if command.spelling == nil { try CommandName.check(name) }
        if name == "help", !command.pairs.isEmpty, !command.pairs.contains(where: { $0.contains("=") }) {
            guard let described = CommandTree.command(named: command.pairs) else {
                throw Failure.usage("no command \(Quoting.excerpt(command.pairs.joined(separator: " ")))")
            }
            return .print(ConveyorctlCommand.helpMessage(for: described))
        }
        if let spelling = command.spelling, let repeated = OptionWords.firstRepeated(spelling.options.map(\.name), in: arguments) {
            throw Failure.usage("--\(repeated) given twice")
        }
        let request = Request(
            id: "conveyorctl", cmd: name, args: try ArgumentWords.arguments(options: command.options, pairs: command.pairs))
        let streams = command.spelling?.spec.streams ?? false
        if global.watch { try checkRepeatable(command.spelling, streams: streams) }
        return .run(Invocation(settings: settings, request: request, streams: streams, repeats: global.watch))
    }

    private enum Parsed {
        case command(any CommandWords)
        /// What argument-parser prints and exits 0 for: help, a completion script, the dump.
        case text(String)
    }

    /// argument-parser's reading of `arguments`; its errors as usage failures.
    private static func parsed(_ arguments: [String]) throws(Failure) -> Parsed {
        do {
            var parsed = try ConveyorctlCommand.parseAsRoot(arguments)
            if parsed is any GroupCommand {
                throw Failure.usage(
                    "\(type(of: parsed)._commandName) needs a subcommand\n" + ConveyorctlCommand.helpMessage(for: type(of: parsed)),
                    hint: false)
            }
            guard let words = parsed as? any CommandWords else {
                // argument-parser's own `help` and `--help`: their run() throws the text.
                try parsed.run()
                throw Failure.usage("unexpected command line")
            }
            return .command(words)
        } catch let failure as Failure {
            throw failure
        } catch {
            let message = ConveyorctlCommand.fullMessage(for: error)
            guard ConveyorctlCommand.exitCode(for: error) != .success else { return .text(ManualData.shown(message)) }
            let prefix = ConveyorctlCommand._errorPrefix
            throw Failure.usage(message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message, hint: false)
        }
    }

    /// `--watch` repeats commands that only read and answer once.
    private static func checkRepeatable(_ spelling: FriendlySpelling?, streams: Bool) throws(Failure) {
        guard let spec = spelling?.spec else {
            throw Failure.usage("--watch repeats only commands conveyorctl knows to be read-only")
        }
        guard !streams else { throw Failure.usage("\(spec.name) streams already: leave out --watch") }
        guard spec.minimumRole == .viewer else {
            throw Failure.usage("--watch repeats only read-only commands; \(spec.name) changes things")
        }
    }
}
