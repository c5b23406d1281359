import ConveyorPostgres
import Foundation
import Testing

/// Runs the examples of `docs/integration-guide.md` as written, in order,
/// against a fresh database and a running `conveyord`, and checks what the
/// guide says they do.
///
/// How the guide's fenced blocks are read:
///
/// - ```` ```sql ```` blocks are run with `psql -X -v ON_ERROR_STOP=1 -f <block>`;
///   ```` ```sh ```` blocks with `bash -euo pipefail`. Both run in one working
///   directory (kept across blocks, so files written there stay) and reach the
///   database through libpq's environment: `PGSERVICE` and `PGSERVICEFILE`
///   name the test database, and `PATH` starts with PostgreSQL's `bin`, so a
///   snippet's plain `psql` connects as the guide says it does. A block must
///   succeed unless marked `fails=`.
/// - ```` ```text ````, ```` ```json ```` and ```` ```ini ```` blocks are output,
///   payloads and config lines for the reader; they are not run (```` ```csv ````
///   only with `file=`). Any other fence language fails the test, so
///   a snippet cannot silently escape it.
/// - An HTML comment on the line before a block, `<!-- guide-test: … -->`,
///   says more about it (space-separated):
///   - `skip` (and a reason): not run, e.g. the reader's own host settings;
///   - `file=NAME`: not run but written to NAME in the working directory
///     (a CSV export, a loader script the next snippet runs);
///   - `name=NAME`: the block's output is kept for the checks below;
///   - `fails=SQLSTATE`: a SQL block that must fail with that SQLSTATE.
///
/// Before each block the test waits until the daemon has no due jobs left,
/// as a reader would find it by the time they type the next command.
@Suite struct IntegrationGuideTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let guidePath = packageRoot.appendingPathComponent("docs/integration-guide.md").path

    @Test func theGuidesSnippetsRunAsWrittenAndDoWhatItSays() throws {
        let blocks = try GuideBlock.parse(try String(contentsOfFile: Self.guidePath, encoding: .utf8))
        let names = Set(blocks.compactMap(\.directives.name))
        let checked: Set<String> = [
            "record-win", "record-win-again", "record-win-shell", "nothing-written", "load-interactions",
            "load-interactions-again", "load-deals", "load-deals-refused", "listen-alert", "listen-handoff",
            "catch-up", "explanation", "candidates",
        ]
        #expect(checked.isSubset(of: names), "blocks the test checks are missing from the guide: \(checked.subtracting(names).sorted())")
        #expect(blocks.contains { $0.directives.fails != nil }, "the guide shows a refused record_win")

        let conninfo = try TestPostgres.makeDatabase()
        let daemon = try DaemonProcess(database: conninfo)
        defer { daemon.stop() }
        let runner = try GuideRunner(conninfo: conninfo)
        defer { runner.remove() }
        let db = try TestPostgres.connect(conninfo)

        var outputs: [String: CommandResult] = [:]
        for block in blocks {
            if block.directives.skip { continue }
            if let file = block.directives.file {
                try Files.write(runner.workingDirectory + "/" + file, block.body)
                continue
            }
            guard block.language == "sql" || block.language == "sh" else { continue }
            #expect(eventually { (try? Self.dueJobs(db)) == 0 }, "the daemon did not catch up before line \(block.line)")
            let result = try runner.run(block)
            if let sqlState = block.directives.fails {
                #expect(result.status != 0 && result.stderr.contains("ERROR:  \(sqlState):"),
                        "the block at line \(block.line) must fail with SQLSTATE \(sqlState):\n\(block.body)\(result)")
            } else {
                #expect(result.status == 0, "the block at line \(block.line) failed:\n\(block.body)\(result)\ndaemon log:\n\(daemon.log)")
            }
            if let name = block.directives.name { outputs[name] = result }
        }
        #expect(eventually { (try? Self.dueJobs(db)) == 0 })

        func output(_ name: String) -> String { outputs[name]?.stdout ?? "" }

        // Recording wins: the job id, the same again; the accounts handed off as the guide says.
        let firstId = Self.singleValue(output("record-win"))
        #expect(firstId != nil, "record-win printed \(output("record-win"))")
        #expect(firstId == Self.singleValue(output("record-win-again")), "record_win is idempotent: \(output("record-win-again"))")
        #expect(Self.singleValue(output("record-win-shell")) != nil, "the shell bridge printed a job id: \(output("record-win-shell"))")
        #expect(Self.singleValue(output("nothing-written")) == "0", "\(output("nothing-written"))")
        let owners = try db.query(
            "select a.ref, a.stage, o.ref as owner from conveyor.accounts a left join conveyor.reps o on o.id = a.owner_id order by a.ref")
        let ownerOf = Dictionary(uniqueKeysWithValues: try owners.map { (try $0["ref"].string(), try $0["owner"].optionalString()) })
        #expect(ownerOf == ["acme-logistics": "olga", "baikal-freight": "boris", "amur-cargo": "boris"], "\(ownerOf)")
        #expect(try owners.allSatisfy { try $0["stage"].string() == "active" })
        #expect(try HandoffDaemon.int(db, "select count(*) from conveyor.handoffs where kind = 'auto'") == 3)

        // COPY: five interactions, twice, still five; three deals; a file with an unknown ref refused whole.
        for expected in ["COPY 5", "DELETE 0", "INSERT 0 5", "COMMIT"] {
            #expect(output("load-interactions").contains(expected), "\(outputs["load-interactions"].map(\.description) ?? "not run")")
        }
        for expected in ["COPY 5", "DELETE 5", "INSERT 0 5", "COMMIT"] {
            #expect(output("load-interactions-again").contains(expected), "\(output("load-interactions-again"))")
        }
        #expect(try HandoffDaemon.int(db, "select count(*) from conveyor.interactions") == 5)
        #expect(try HandoffDaemon.int(db, "select count(*) from conveyor.interactions where contact is null") == 1)
        for expected in ["COPY 3", "INSERT 0 3", "COMMIT"] {
            #expect(output("load-deals").contains(expected), "\(outputs["load-deals"].map(\.description) ?? "not run")")
        }
        #expect(output("load-deals-refused").contains("refused (psql exit status 3)"), "\(outputs["load-deals-refused"].map(\.description) ?? "not run")")
        #expect(outputs["load-deals-refused"]?.stderr.contains("unknown team, account or rep in the deals export") == true)
        #expect(try HandoffDaemon.int(db, "select count(*) from conveyor.deals") == 3)
        #expect(try HandoffDaemon.int(db, "select count(*) from conveyor.deals where rep_id is null") == 1)

        // Events: the waiting win's alert, then the alert resolved and the handoff, as notifications.
        #expect(output("listen-alert").contains(#"Asynchronous notification "conveyor_events" with payload "{"type" : "alerts", "ids" : ["#),
                "\(output("listen-alert"))")
        #expect(!output("listen-alert").contains(#""type" : "handoffs""#))
        #expect(output("listen-handoff").contains(#"with payload "{"type" : "handoffs", "team_id" : "#), "\(output("listen-handoff"))")
        #expect(try HandoffDaemon.int(db, "select count(*) from conveyor.alerts where kind = 'no_eligible_manager' and status = 'resolved'") == 1)
        #expect(output("catch-up").contains("(3 rows)") && output("catch-up").contains("amur-cargo"), "\(output("catch-up"))")

        // The explanation: a candidates array, olga chosen, boris excluded for skills.
        #expect(output("explanation").contains(#""candidates": ["#), "\(output("explanation"))")
        #expect(output("explanation").contains(#""rule": "only_candidate""#), "\(output("explanation"))")
        let verdicts = Self.rows(output("candidates")).map { ($0.first ?? "", $0.last ?? "") }
        #expect(verdicts.map { $0.0 } == ["olga", "boris"] && verdicts.map { $0.1 } == ["chosen", "skills"], "\(output("candidates"))")
    }

    /// The parser reads directives and fences as the comment above says.
    @Test func blocksAndTheirDirectivesAreReadAsDocumented() throws {
        let text = """
            Some prose.

            <!-- guide-test: skip (not here) -->
            ```sh
            export PGHOST=x
            ```

            <!-- guide-test: name=a fails=23503 -->
            ```sql
            select 1;
            ```

            ```text
            output
            ```
            <!-- guide-test: file=x.csv -->
            ```csv
            a,b
            ```
            """
        let blocks = try GuideBlock.parse(text)
        #expect(blocks.map(\.language) == ["sh", "sql", "text", "csv"])
        #expect(blocks[0].directives.skip && blocks[0].body == "export PGHOST=x\n")
        #expect(blocks[1].directives.name == "a" && blocks[1].directives.fails == "23503" && blocks[1].line == 9)
        #expect(blocks[2].directives == GuideBlock.Directives())
        #expect(blocks[3].directives.file == "x.csv")
        // A directive the parser does not know, a language it would not run, an unclosed fence: refused.
        #expect(throws: GuideBlock.Malformed.self) { try GuideBlock.parse("<!-- guide-test: nmae=x -->\n```sql\nselect 1;\n```\n") }
        #expect(throws: GuideBlock.Malformed.self) { try GuideBlock.parse("```bash\necho hi\n```\n") }
        #expect(throws: GuideBlock.Malformed.self) { try GuideBlock.parse("```sql\nselect 1;\n") }
        #expect(throws: GuideBlock.Malformed.self) { try GuideBlock.parse("<!-- guide-test: name=x -->\n\nprose\n") }
    }

    /// Jobs a worker could claim now.
    static func dueJobs(_ db: PostgresConnection) throws -> Int {
        try HandoffDaemon.int(db, "select count(*) from conveyor.jobs where state in ('available', 'retryable') and run_at <= now()")
    }

    /// The cells of psql's aligned output, one array per row (header, rule and footer left out).
    static func rows(_ output: String) -> [[String]] {
        let lines = output.split(separator: "\n").map(String.init)
        guard let rule = lines.firstIndex(where: { $0.hasPrefix("---") || $0.hasPrefix("-+") }) else { return [] }
        return lines[(rule + 1)...].prefix { !$0.hasPrefix("(") }.map {
            $0.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }

    /// The only cell of a one-row, one-column psql result, if the output is that.
    static func singleValue(_ output: String) -> String? {
        let found = rows(output)
        guard found.count == 1, found[0].count == 1 else { return nil }
        return found[0][0]
    }
}

/// A fenced block of a Markdown guide with the `guide-test` directives before it.
struct GuideBlock: Equatable {
    struct Directives: Equatable {
        var skip = false
        var file: String?
        var name: String?
        var fails: String?
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    var language: String
    var body: String
    /// The line of the opening fence (1-based).
    var line: Int
    var directives: Directives

    /// Languages that are run, and those that are only shown (`csv` only with `file=`).
    static let run: Set<String> = ["sql", "sh"]
    static let shown: Set<String> = ["text", "json", "csv", "ini"]

    static func parse(_ markdown: String) throws -> [GuideBlock] {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var blocks: [GuideBlock] = []
        var pending: (directives: Directives, line: Int)?
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("<!-- guide-test:") {
                guard pending == nil else { throw Malformed(description: "line \(index + 1): two guide-test comments in a row") }
                pending = (try directives(trimmed, line: index + 1), index + 1)
            } else if trimmed.hasPrefix("```") {
                let language = String(trimmed.dropFirst(3)).trimmingCharacters(in: .whitespaces)
                let opening = index + 1
                var body: [String] = []
                index += 1
                while index < lines.count, lines[index].trimmingCharacters(in: .whitespaces) != "```" {
                    body.append(lines[index])
                    index += 1
                }
                guard index < lines.count else { throw Malformed(description: "line \(opening): the fence is never closed") }
                let found = pending?.directives ?? Directives()
                guard run.contains(language) || shown.contains(language) else {
                    throw Malformed(description: "line \(opening): fence language \"\(language)\" is neither run (sql, sh) nor shown (text, json, csv, ini)")
                }
                if language == "csv", found.file == nil, !found.skip {
                    throw Malformed(description: "line \(opening): a csv block needs file= (or skip)")
                }
                blocks.append(GuideBlock(language: language, body: body.map { $0 + "\n" }.joined(), line: opening, directives: found))
                pending = nil
            } else if !trimmed.isEmpty, let pending {
                throw Malformed(description: "line \(pending.line): a guide-test comment must stand right before a fenced block")
            }
            index += 1
        }
        if let pending { throw Malformed(description: "line \(pending.line): a guide-test comment without a block after it") }
        return blocks
    }

    private static func directives(_ comment: String, line: Int) throws -> Directives {
        guard comment.hasSuffix("-->") else { throw Malformed(description: "line \(line): a guide-test comment must be one line") }
        let words = comment.dropFirst("<!-- guide-test:".count).dropLast(3).split(separator: " ").map(String.init)
        var found = Directives()
        for word in words {
            if word == "skip" {
                found.skip = true
                break  // the rest is the reason
            }
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty else { throw Malformed(description: "line \(line): unknown directive \"\(word)\"") }
            switch parts[0] {
            case "file": found.file = parts[1]
            case "name": found.name = parts[1]
            case "fails": found.fails = parts[1]
            default: throw Malformed(description: "line \(line): unknown directive \"\(word)\"")
            }
        }
        return found
    }
}

/// Runs guide blocks as a reader would: one working directory, libpq's
/// environment pointing at the test database, PostgreSQL's tools on the PATH.
final class GuideRunner {
    let workingDirectory: String
    private let scratch: String
    private let environment: [String: String]
    private var count = 0

    init(conninfo: String) throws {
        scratch = try TemporaryDirectory.make("cvy-guide")
        workingDirectory = scratch + "/work"
        try FileManager.default.createDirectory(atPath: workingDirectory, withIntermediateDirectories: false)
        // A libpq service file holds any conninfo's keywords, one a line.
        var service = "[conveyor-guide]\n"
        for item in conninfo.split(separator: " ") {
            guard item.contains("="), !item.contains("'") else {
                throw TestSetupError("cannot turn the conninfo item \(item) into a service file line")
            }
            service += item + "\n"
        }
        try Files.write(scratch + "/pg_service.conf", service)
        let binaries = try TestPostgres.running().binaries
        guard FileManager.default.isExecutableFile(atPath: binaries + "/psql") else {
            throw TestSetupError("psql not found in \(binaries)")
        }
        environment = [
            "PGSERVICEFILE": scratch + "/pg_service.conf",
            "PGSERVICE": "conveyor-guide",
            "PATH": binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "PGAPPNAME": "integration-guide",
        ]
    }

    /// Runs one `sql` or `sh` block in the working directory.
    func run(_ block: GuideBlock) throws -> CommandResult {
        count += 1
        let path = scratch + "/block-\(count)-line-\(block.line).\(block.language)"
        try Files.write(path, block.body)
        let command = block.language == "sql"
            ? #"cd -- "$1" && exec psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -f "$2""#
            : #"cd -- "$1" && source "$2""#
        return try Spawn.run(
            ["/bin/bash", "-euo", "pipefail", "-c", command, "guide", workingDirectory, path],
            environment: environment, timeout: .seconds(60))
    }

    func remove() { TemporaryDirectory.remove(scratch) }
}
