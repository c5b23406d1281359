import ArgumentParser
import ConveyorProtocol

/// A parsed command line that names a command: what ``Action/parse(_:environment:)`` turns
/// into a request.
protocol CommandWords {
    var global: GlobalOptions { get }
    /// The catalog spelling, or `nil` for a command the catalog lacks (sent as it is).
    var spelling: FriendlySpelling? { get }
    /// The command name to send; `nil` when none was given.
    var commandName: String? { get }
    /// The options given, as (argument name, value).
    var options: [(argument: String, value: String)] { get }
    /// The words after the command: `key=value` each.
    var pairs: [String] { get }
}

/// One friendly spelling (``FriendlyCommands/spellings``) as a command: its options, and
/// `key=value` words for anything else, as the protocol's words form has them.
///
/// `Spelling` is the spelling's index and `Options` its ``OptionChain``; both are made at
/// run time by ``CommandTree``, so this is one command type per spelling.
struct CatalogCommand<Spelling: TypeIndex, Options: OptionChain>: ParsableCommand, CommandWords {
    static var configuration: CommandConfiguration { CommandTree.spellingConfigurations[Spelling.value] }

    @ParentCommand var root: ConveyorctlCommand
    @OptionGroup var chain: Options
    @Argument(help: ArgumentHelp("further arguments in the protocol's words form", valueName: "key=value"))
    var words: [String] = []

    var global: GlobalOptions { root.global }
    var spelling: FriendlySpelling? { FriendlyCommands.spellings[Spelling.value] }
    var commandName: String? { spelling?.spec.name }
    var options: [(argument: String, value: String)] { chain.given }
    var pairs: [String] { words }
}

/// A command that only groups others: given alone, a usage error.
protocol GroupCommand {}

/// A group word of friendly spellings (`rep`): only its subcommands run.
struct CatalogGroup<Group: TypeIndex>: ParsableCommand, GroupCommand {
    static var configuration: CommandConfiguration { CommandTree.groupConfigurations[Group.value] }
}

/// Any command line that names no spelling: `COMMAND key=value …` sent as it is, so that
/// commands of a newer daemon work too (and an unknown one gets `unknown_command`).
/// The tree's default subcommand; hidden.
struct UnlistedCommand: ParsableCommand, CommandWords {
    static let configuration = CommandConfiguration(
        commandName: "COMMAND", abstract: "any other command, sent to the daemon as it is: COMMAND [key=value ...]",
        shouldDisplay: false)

    @ParentCommand var root: ConveyorctlCommand
    @Argument(parsing: .allUnrecognized) var words: [String] = []

    var global: GlobalOptions { root.global }
    var spelling: FriendlySpelling? { nil }
    var commandName: String? { words.first }
    var options: [(argument: String, value: String)] { [] }
    var pairs: [String] { Array(words.dropFirst()) }
}

/// The root: the global options, then a command.
struct ConveyorctlCommand: ParsableCommand {
    static let configuration = CommandTree.rootConfiguration
    static var _errorPrefix: String { "conveyorctl: " }

    @OptionGroup var global: GlobalOptions
}
