import ConveyorProtocol
import Foundation
import Testing

/// Every `conveyorctl` and `conveyord` command line in `docs/admin-guide.md`'s
/// shell blocks is one the real binaries take: a command of the catalog (or
/// a shortcut), options they know. Each `conveyorctl` line is run against a
/// socket that does not exist, so it must get as far as connecting (exit 3)
/// rather than stop at a usage error (exit 2); each `conveyord` line's
/// subcommand must answer `--help`. Other lines (`systemctl`, `journalctl`,
/// `usermod`, `apt`) are the system's and are not run.
@Suite struct AdminGuideTests {
    static let guidePath = IntegrationGuideTests.packageRoot.appendingPathComponent("docs/admin-guide.md").path
    static let shortcuts: Set<String> = ["alerts", "reps", "teams", "jobs"]

    @Test func everyCommandTheGuideShowsIsOneTheBinariesTake() throws {
        let blocks = try GuideBlock.parse(try String(contentsOfFile: Self.guidePath, encoding: .utf8))
        let commands = blocks.filter { $0.language == "sh" }.flatMap { Self.commandLines($0.body) }
        let ctlLines = commands.filter { $0.first == "conveyorctl" }
        #expect(ctlLines.count >= 30, "the guide shows \(ctlLines.count) conveyorctl commands")
        let known = Set(CommandCatalog.all.map(\.name))
        var shown: Set<String> = []
        let missingSocket = "/nonexistent-conveyor-guide/admin.sock"
        for words in ctlLines {
            let arguments = Array(words.dropFirst())
            let command = Self.commandName(arguments, known: known)
            #expect(command != nil, "not a command of the catalog: \(words.joined(separator: " "))")
            if let command { shown.insert(command) }
            let result = try Conveyorctl.run(["--socket", missingSocket] + arguments, socket: nil, timeout: .seconds(15))
            #expect(result.status == 3, "conveyorctl \(arguments.joined(separator: " ")) is not taken as written: \(result)")
        }
        for words in commands where words.first == "conveyord" {
            guard let subcommand = words.dropFirst().first else { continue }
            let result = try Conveyord.run([subcommand, "--help"])
            #expect(result.status == 0, "conveyord \(subcommand) is not a subcommand: \(result)")
        }
        // The day-2 operations the guide is for.
        for command in [
            "team.add", "rep.add", "rep.away", "rep.back", "rep.depart", "alert.list", "alert.ack", "alert.snooze", "team.pause",
            "team.resume", "drain", "resume", "config.reload", "status", "queue.stats", "job.list", "account.explain",
        ] {
            #expect(shown.contains(command), "the guide shows \(command)")
        }
        #expect(commands.contains { $0.starts(with: ["journalctl", "-u", "conveyord", "-p", "warning"]) })
        #expect(commands.contains { $0.starts(with: ["conveyord", "migrate"]) })
    }

    /// The protocol name of a conveyorctl command line's command, if the catalog has it.
    static func commandName(_ arguments: [String], known: Set<String>) -> String? {
        let words = arguments.prefix { !$0.hasPrefix("-") && !$0.contains("=") }
        guard let first = words.first else { return nil }
        if shortcuts.contains(first) { return ["alerts": "alert.list", "reps": "rep.list", "teams": "team.list", "jobs": "job.list"][first] }
        if known.contains(first) { return first }
        if words.count >= 2, known.contains(first + "." + words[words.startIndex + 1]) { return first + "." + words[words.startIndex + 1] }
        return nil
    }

    /// The command lines of a shell block as words: continuations joined, comments
    /// dropped, quotes removed, `$(…)` kept as one word.
    static func commandLines(_ script: String) -> [[String]] {
        script.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n").compactMap { (line: Substring) -> [String]? in
            var words: [String] = []
            var current = ""
            var hasWord = false
            var quote: Character?
            var depth = 0
            for character in line {
                if let open = quote {
                    if character == open && depth == 0 { quote = nil } else { current.append(character) }
                    if character == "(" && current.hasSuffix("$(") { depth += 1 } else if character == ")" && depth > 0 { depth -= 1 }
                } else if character == "\"" || character == "'" {
                    quote = character
                    hasWord = true
                } else if character == "#" && !hasWord && current.isEmpty {
                    break
                } else if character.isWhitespace {
                    if hasWord { words.append(current) }
                    current = ""
                    hasWord = false
                } else {
                    current.append(character)
                    hasWord = true
                }
            }
            if hasWord { words.append(current) }
            return words.isEmpty ? nil : words
        }
    }

    @Test func commandLinesAreSplitAsAShellWould() {
        #expect(Self.commandLines("conveyorctl rep add --name \"Ivan Petrov\" --x 1   # a comment\n\n# only a comment\n")
            == [["conveyorctl", "rep", "add", "--name", "Ivan Petrov", "--x", "1"]])
        #expect(Self.commandLines("conveyorctl team update --name rail \\\n    --webhook-secret \"$(cat /etc/x)\"\n")
            == [["conveyorctl", "team", "update", "--name", "rail", "--webhook-secret", "$(cat /etc/x)"]])
        #expect(Self.commandName(["rep", "away", "--team", "rail"], known: ["rep.away"]) == "rep.away")
        #expect(Self.commandName(["drain", "timeout=120"], known: ["drain"]) == "drain")
        #expect(Self.commandName(["alerts", "--team", "rail"], known: []) == "alert.list")
        #expect(Self.commandName(["rep", "leave"], known: ["rep.away"]) == nil)
    }
}
