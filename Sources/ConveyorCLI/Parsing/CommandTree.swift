import ArgumentParser
import ConveyorProtocol

/// The argument-parser command tree of conveyorctl, made at run time from
/// ``FriendlyCommands``: one ``CatalogCommand`` type per spelling, one ``CatalogGroup`` type
/// per group word, and ``ConveyorctlCommand`` at the root with ``UnlistedCommand`` as its
/// default (any other command line, sent as it is).
///
/// Why this design: argument-parser knows commands and options only as Swift types, and
/// the commands are data (``CommandCatalog/all``). Capturing the words and reading the
/// options by hand would leave `--help`, the completion scripts and the manual without the
/// options; generating a source file per command would be a second copy of the catalog to
/// keep in step. Specialising generic command types with run-time index types
/// (``TypeIndex``, ``OptionChain``) keeps the catalog the one source and lets the library
/// parse, check and describe every command and option itself.
enum CommandTree {
    static let spellingTypes: [any ParsableCommand.Type] = TypeIndices.first(FriendlyCommands.spellings.count).map {
        command($0, OptionChains.chain(for: $0))
    }
    static let groupTypes: [any ParsableCommand.Type] = TypeIndices.first(FriendlyCommands.groups.count).map { group($0) }

    static let spellingConfigurations: [CommandConfiguration] = FriendlyCommands.spellings.map { spelling in
        CommandConfiguration(
            commandName: spelling.words.last, abstract: spelling.spec.summary, discussion: discussion(of: spelling),
            shouldDisplay: spelling.kind != .generic)
    }

    static let groupConfigurations: [CommandConfiguration] = FriendlyCommands.groups.map { group in
        let members = group.members.map { FriendlyCommands.spellings[$0].words.last ?? "" }
        return CommandConfiguration(
            commandName: group.name, abstract: members.joined(separator: ", "),
            subcommands: group.members.map { spellingTypes[$0] })
    }

    static let rootConfiguration: CommandConfiguration = {
        var topLevel: [any ParsableCommand.Type] = []
        var shortcuts: [any ParsableCommand.Type] = []
        var hidden: [any ParsableCommand.Type] = []
        var groupsListed = Set<String>()
        for (index, spelling) in FriendlyCommands.spellings.enumerated() {
            switch spelling.kind {
            case .friendly where spelling.words.count == 1:
                topLevel.append(spellingTypes[index])
            case .friendly:
                if let group = FriendlyCommands.groups.firstIndex(where: { $0.name == spelling.words[0] }),
                    groupsListed.insert(spelling.words[0]).inserted
                {
                    topLevel.append(groupTypes[group])
                }
            case .shortcut:
                shortcuts.append(spellingTypes[index])
            case .generic:
                hidden.append(spellingTypes[index])
            }
        }
        return CommandConfiguration(
            commandName: "conveyorctl", abstract: HelpText.abstract, usage: HelpText.usage,
            discussion: HelpText.discussion,
            subcommands: topLevel + hidden + [UnlistedCommand.self],
            groupedSubcommands: [CommandGroup(name: "Shortcut", subcommands: shortcuts)],
            defaultSubcommand: UnlistedCommand.self)
    }()

    /// The command type that `words` name: a spelling's or a group's.
    static func command(named words: [String]) -> (any ParsableCommand.Type)? {
        if let index = FriendlyCommands.spellings.firstIndex(where: { $0.words == words }) { return spellingTypes[index] }
        guard words.count == 1, let index = FriendlyCommands.groups.firstIndex(where: { $0.name == words[0] }) else {
            return nil
        }
        return groupTypes[index]
    }

    /// Minimum role, the protocol's spelling, and what the options cannot say.
    private static func discussion(of spelling: FriendlySpelling) -> String {
        var lines = ["Minimum role: \(spelling.spec.minimumRole.rawValue). In the protocol's words: \(spelling.spec.usage)"]
        if spelling.kind == .shortcut {
            lines.append("A shortcut for `conveyorctl \(spelling.spec.name.split(separator: ".").joined(separator: " "))`.")
        }
        if spelling.spec.streams {
            lines.append("Streams until the daemon closes the connection or you press Ctrl-C.")
        }
        for argument in spelling.wordsOnly {
            lines.append("\(argument.name)=<\(argument.name)>: \(argument.summary) (its option name is conveyorctl's own).")
        }
        return lines.joined(separator: "\n\n")
    }

    private static func command<Spelling: TypeIndex, Options: OptionChain>(
        _: Spelling.Type, _: Options.Type
    ) -> any ParsableCommand.Type {
        CatalogCommand<Spelling, Options>.self
    }

    private static func group<Group: TypeIndex>(_: Group.Type) -> any ParsableCommand.Type {
        CatalogGroup<Group>.self
    }
}
