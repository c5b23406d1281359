@testable import ConveyorCLI
import ArgumentParser
import ConveyorProtocol
import Testing

/// The friendly command line is derived from the catalog, whole and without clashes.
@Suite struct CatalogTreeTests {
    @Test func everyCatalogCommandHasItsSpellings() {
        for spec in CommandCatalog.all {
            let spellings = FriendlyCommands.spellings.filter { $0.spec == spec }
            #expect(spellings.contains { $0.kind == .friendly && $0.words == spec.name.split(separator: ".").map(String.init) }, "\(spec.name)")
            #expect(spellings.contains { $0.kind == .generic && $0.words == [spec.name] } == spec.name.contains("."), "\(spec.name)")
            let options = spellings[0].options.map(\.name) + spellings[0].wordsOnly.map { FriendlyCommands.optionName(of: $0.name) }
            #expect(options == spec.args.map { FriendlyCommands.optionName(of: $0.name) }, "every argument once: \(spec.name)")
        }
        #expect(FriendlyCommands.spellings.filter { $0.kind == .shortcut }.map(\.words) == [["alerts"], ["reps"], ["teams"], ["jobs"]])
    }

    @Test func namesAreUniqueAtEveryLevel() {
        let topLevel = FriendlyCommands.spellings.filter { $0.words.count == 1 }.map { $0.words[0] }
            + FriendlyCommands.groups.map(\.name)
        #expect(Set(topLevel).count == topLevel.count, "\(topLevel)")
        for group in FriendlyCommands.groups {
            let names = group.members.map { FriendlyCommands.spellings[$0].words[1] }
            #expect(Set(names).count == names.count, "\(group.name)")
        }
        for spelling in FriendlyCommands.spellings {
            #expect(Set(spelling.options.map(\.name)).count == spelling.options.count)
            #expect(spelling.options.allSatisfy { !FriendlyCommands.reservedOptionNames.contains($0.name) })
        }
    }

    @Test func anArgumentNamedLikeAGlobalOptionIsAWordOnly() {
        let commands = [
            CommandSpec(
                "drain", "drain", args: [ArgSpec("timeout", required: false, "seconds"), ArgSpec("dry_run", required: false, "x")],
                minimumRole: .admin)
        ]
        let spelling = FriendlyCommands.spellings(of: commands)[0]
        #expect(spelling.options.map(\.name) == ["dry-run"])
        #expect(spelling.wordsOnly.map(\.name) == ["timeout"])
    }

    @Test(.timeLimit(.minutes(1)))
    func everyCommandHasHelpFromTheCatalog() throws {
        for spelling in FriendlyCommands.spellings {
            let text = try printed(spelling.words + ["--help"])
            #expect(text.contains(spelling.spec.summary.prefix(20)), "\(spelling.words)")
            #expect(text.contains("Minimum role: \(spelling.spec.minimumRole.rawValue)"), "\(spelling.words)")
            for option in spelling.options {
                #expect(text.contains("--\(option.name) <\(option.argument.name)>"), "\(spelling.words) \(option.name)")
            }
        }
        let root = try printed(["--help"])
        for group in FriendlyCommands.groups { #expect(root.contains("  \(group.name) ")) }
        #expect(root.contains("alerts") && root.contains("SHORTCUT SUBCOMMANDS"))
        #expect(!root.contains("\n  rep.add "), "catalog names are not listed twice")
        #expect(root.contains("16  permission_denied"))
    }

    @Test func helpOfOneCommand() throws {
        #expect(try printed(["team", "pause", "--help"]) == """
            OVERVIEW: stop handoffs and scans for a team

            Minimum role: operator. In the protocol's words: team.pause name=<name>

            USAGE: conveyorctl team pause [--name <name>] [<key=value> ...]

            ARGUMENTS:
              <key=value>             further arguments in the protocol's words form

            OPTIONS:
              --name <name>           team name (required)
              -h, --help              Show help information.

            """)
    }

    @Test(.timeLimit(.minutes(1)), arguments: ["bash", "zsh", "fish"])
    func completionScriptsKnowTheCommandsAndOptions(shell: String) throws {
        let script = try printed(["--generate-completion-script", shell])
        for word in ["rep", "depart", "alerts", "team", "time-zone", "scan-local-time", "socket", "json"] {
            #expect(script.contains(word), "\(shell): \(word)")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func theManualsDataDescribesTheTree() throws {
        let dump = try json(try printed(["--experimental-dump-help"]))
        let command = try #require(dump["command"])
        #expect(command["commandName"] == "conveyorctl")
        let names = command["subcommands"]?.arrayValue?.compactMap { $0["commandName"]?.stringValue } ?? []
        #expect(names.contains("rep") && names.contains("status") && names.contains("alerts"))
        let rep = command["subcommands"]?.arrayValue?.first { $0["commandName"] == "rep" }
        let add = rep?["subcommands"]?.arrayValue?.first { $0["commandName"] == "add" }
        let options = add?["arguments"]?.arrayValue?.compactMap { $0["names"]?.arrayValue?.first?["name"]?.stringValue } ?? []
        #expect(options.starts(with: ["team", "ref", "name", "role", "capacity", "skills"]), "\(options)")
        let global = command["arguments"]?.arrayValue?.compactMap { $0["preferredName"]?["name"]?.stringValue }
        #expect(global == GlobalOptions.names + ["help"])
    }

    /// generate-manual lists every command of the dump: it holds only those `--help` lists.
    @Test(.timeLimit(.minutes(1)))
    func theManualsDataHasNoHiddenCommands() throws {
        /// The words of every command below `command`: `rep`, `rep add`, …
        func commands(below command: JSONValue, named words: [String] = []) -> [String] {
            (command["subcommands"]?.arrayValue ?? []).flatMap { subcommand in
                let named = words + [subcommand["commandName"]?.stringValue ?? ""]
                return [named.joined(separator: " ")] + commands(below: subcommand, named: named)
            }
        }
        let root = try #require(try json(try printed(["--experimental-dump-help"]))["command"])
        let listed = commands(below: root)
        for spelling in FriendlyCommands.spellings {
            #expect(listed.contains(spelling.words.joined(separator: " ")) == (spelling.kind != .generic), "\(spelling.words)")
        }
        #expect(!listed.contains { $0.contains(".") || $0 == "COMMAND" }, "\(listed)")
        let discussion = root["discussion"]?.stringValue ?? ""
        #expect(discussion.contains("COMMAND [key=value ...]") && discussion.contains("rep.add team=rail"), "the hidden forms in prose")
    }
}
