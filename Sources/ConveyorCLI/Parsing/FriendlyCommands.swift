import ConveyorProtocol

/// One way to name a catalog command on the command line, with an option per argument.
struct FriendlySpelling: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// `rep add`, `status`: the catalog name split at its dot (one word stays one word).
        case friendly
        /// `alerts` for `alert list`: a short name of its own, shown among the shortcuts.
        case shortcut
        /// `rep.add`: the catalog name as one word, the protocol's spelling; not listed in
        /// help, so that every command is listed once.
        case generic
    }

    /// The words that name it: `["rep", "add"]`, `["status"]`, `["alerts"]`, `["rep.add"]`.
    var words: [String]
    var spec: CommandSpec
    var kind: Kind
    /// The arguments that have an option, each with the option's long name.
    var options: [FriendlyOption]
    /// The arguments whose option name is taken by a global option (`drain`'s `timeout`):
    /// they are given as `key=value` only.
    var wordsOnly: [ArgSpec]
}

/// The option of one argument: `--time-zone` for `time_zone`.
struct FriendlyOption: Sendable, Equatable {
    var argument: ArgSpec
    /// Without the leading `--`.
    var name: String
}

/// A word that groups friendly spellings (`rep` for `rep add`, `rep list`, …).
struct FriendlyGroup: Sendable, Equatable {
    var name: String
    /// Indexes into ``FriendlyCommands/spellings``.
    var members: [Int]
}

/// The friendly command line, derived from ``CommandCatalog/all``: a command `rep.add` with
/// the arguments `team`, `ref`, … becomes the group `rep` with the subcommand `add` and the
/// options `--team`, `--ref`, …; a one-word command (`status`) stays one word. Every
/// catalog name also stays a command as it is (`rep.add`), and a few list commands have
/// shortcuts (`alerts`).
enum FriendlyCommands {
    /// Shortcut → catalog name; a shortcut whose command the catalog lacks is left out.
    static let shortcuts: KeyValuePairs<String, String> = [
        "alerts": "alert.list", "reps": "rep.list", "teams": "team.list", "jobs": "job.list",
    ]

    /// Long option names of conveyorctl itself and of swift-argument-parser: an argument
    /// with one of these names has no option of its own.
    static let reservedOptionNames = Set(
        GlobalOptions.names + ["help", "version", "generate-completion-script", "experimental-dump-help"])

    static let spellings: [FriendlySpelling] = spellings(of: CommandCatalog.all)
    static let groups: [FriendlyGroup] = groups(of: spellings)

    /// The spellings of `commands`: first every friendly one in catalog order, then the
    /// shortcuts, then the generic ones.
    static func spellings(of commands: [CommandSpec]) -> [FriendlySpelling] {
        let friendly = commands.map { spelling($0, words: $0.name.split(separator: ".").map(String.init), .friendly) }
        let shortcuts = shortcuts.compactMap { shortcut, name in
            commands.first { $0.name == name }.map { spelling($0, words: [shortcut], .shortcut) }
        }
        let generic = commands.filter { $0.name.contains(".") }.map { spelling($0, words: [$0.name], .generic) }
        return friendly + shortcuts + generic
    }

    /// The groups of the friendly spellings with more than one word, in catalog order.
    static func groups(of spellings: [FriendlySpelling]) -> [FriendlyGroup] {
        var groups: [FriendlyGroup] = []
        for (index, spelling) in spellings.enumerated() where spelling.kind == .friendly && spelling.words.count > 1 {
            if let existing = groups.firstIndex(where: { $0.name == spelling.words[0] }) {
                groups[existing].members.append(index)
            } else {
                groups.append(FriendlyGroup(name: spelling.words[0], members: [index]))
            }
        }
        return groups
    }

    private static func spelling(_ spec: CommandSpec, words: [String], _ kind: FriendlySpelling.Kind) -> FriendlySpelling {
        let named = spec.args.map { FriendlyOption(argument: $0, name: optionName(of: $0.name)) }
        return FriendlySpelling(
            words: words, spec: spec, kind: kind,
            options: named.filter { !reservedOptionNames.contains($0.name) },
            wordsOnly: named.filter { reservedOptionNames.contains($0.name) }.map(\.argument))
    }

    /// `time_zone` → `time-zone`.
    static func optionName(of argument: String) -> String {
        String(argument.map { $0 == "_" ? "-" : $0 })
    }
}
