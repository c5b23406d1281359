import ConveyorProtocol

/// What `conveyorctl --experimental-dump-help` prints: argument-parser's description of the
/// command tree, the data of its `generate-manual` tool (and plugin), with only the
/// commands that `--help` lists.
///
/// Why the dump, not the manual: generate-manual lists every command of the dump, the
/// hidden ones too, so the man page would list each catalog command twice (`rep add` and
/// `rep.add`) and the pass-through `COMMAND`. It runs the tool itself, so nothing can filter
/// its input on the way (short of a wrapper in place of conveyorctl); the tool deciding what
/// it dumps fixes `scripts/install`'s page and the plugin's alike, with the library's own
/// generator. The root's discussion (``HelpText/discussion``) describes the hidden forms.
enum ManualData {
    /// `text` without the hidden commands when it is the dump (a JSON object with a
    /// `serializationVersion`); any other text (help, a completion script) as it is.
    static func shown(_ text: String) -> String {
        guard let dump = try? JSONValue(parsing: text), var members = dump.objectValue,
            members["serializationVersion"] != nil, let command = members["command"]
        else { return text }
        members["command"] = shown(command: command)
        return JSONValue.object(members).compactString
    }

    /// `command` with its hidden subcommands left out, at every level.
    private static func shown(command: JSONValue) -> JSONValue {
        guard var members = command.objectValue, let subcommands = members["subcommands"]?.arrayValue else {
            return command
        }
        members["subcommands"] = .array(subcommands.filter { $0["shouldDisplay"] != false }.map(shown(command:)))
        return .object(members)
    }
}
