import ConveyorProtocol
import Testing

@Suite struct CommandCatalogTests {
    /// Every command of the public protocol with the arguments it lists, written out here
    /// independently of the catalog.
    static let specArgs: [String: Set<String>] = {
        let team = ["name", "time_zone", "scan_local_time"]
        let rep = ["team", "ref", "name", "role", "capacity", "skills"]
        let teamRef = ["team", "ref"]
        let table: [String: [String]] = [
            "ping": [], "help": [], "version": [], "status": [], "metrics": [], "team.list": [],
            "team.add": team, "team.update": team, "team.pause": ["name"], "team.resume": ["name"],
            "rep.list": ["team"], "rep.add": rep, "rep.update": rep,
            "rep.away": teamRef + ["until"], "rep.back": teamRef, "rep.depart": teamRef,
            "win": ["team", "account", "hunter", "name", "needs", "value"],
            "account.show": teamRef, "account.explain": teamRef, "account.reassign": teamRef + ["to"],
            "queue.stats": [], "job.list": ["state"], "job.retry": ["id"], "job.cancel": ["id"],
            "scan.run": ["team"],
            "alert.list": ["team", "status"], "alert.ack": ["id"], "alert.snooze": ["id", "until"],
            "watch": ["topics"],
            "config.reload": [], "log.level": ["level"], "drain": [], "resume": [], "shutdown": [],
        ]
        return table.mapValues(Set.init)
    }()

    static let viewer: Set = [
        "ping", "help", "version", "status", "metrics", "team.list", "rep.list", "account.show", "account.explain",
        "queue.stats", "job.list", "alert.list", "watch",
    ]
    static let admin: Set = ["config.reload", "log.level", "drain", "resume", "shutdown"]

    @Test func coversEverySpecCommandOnce() {
        let names = CommandCatalog.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(Set(names) == Set(Self.specArgs.keys))
    }

    /// Every argument the contract names is there by that name; commands may take more
    /// (alert.list's filters and pages, scan.run's digest).
    @Test func argumentsMatchTheSpec() {
        for spec in CommandCatalog.all {
            let names = spec.args.map(\.name)
            #expect(Set(names).count == names.count, "\(spec.name) repeats an argument")
            #expect(Self.specArgs[spec.name]?.isSubset(of: Set(names)) == true, "\(spec.name): \(names)")
            #expect(!spec.summary.isEmpty && spec.args.allSatisfy { !$0.summary.isEmpty }, "\(spec.name)")
        }
    }

    @Test func minimumRoles() {
        for spec in CommandCatalog.all {
            let expected: Role =
                Self.viewer.contains(spec.name) ? .viewer : Self.admin.contains(spec.name) ? .admin : .operator
            #expect(spec.minimumRole == expected, "\(spec.name)")
        }
    }

    @Test func requiredArguments() throws {
        let required = { (name: String) in
            try #require(CommandCatalog.spec(named: name)).args.filter(\.required).map(\.name)
        }
        #expect(try required("rep.add") == ["team", "ref", "role"])
        #expect(try required("rep.update") == ["team", "ref"])
        #expect(try required("win") == ["team", "account", "hunter"])
        #expect(try required("account.reassign") == ["team", "ref", "to"])
        #expect(try required("alert.snooze") == ["id", "until"])
        #expect(try required("team.list").isEmpty)
    }

    @Test func lookupAndStreaming() {
        #expect(CommandCatalog.spec(named: "rep.away")?.name == "rep.away")
        #expect(CommandCatalog.spec(named: "nope") == nil)
        #expect(CommandCatalog.all.filter(\.streams).map(\.name) == ["watch"])
    }

    @Test func usage() {
        #expect(CommandCatalog.spec(named: "rep.away")?.usage == "rep.away team=<team> ref=<ref> [until=<until>]")
        #expect(CommandCatalog.spec(named: "ping")?.usage == "ping")
    }

    @Test func roleOrdering() {
        #expect(Role.viewer < .operator && Role.operator < .admin && Role.viewer < .admin)
        #expect(!(Role.admin < .admin))
        #expect([Role.admin, .viewer, .operator].sorted() == [.viewer, .operator, .admin])
        #expect(Role.allCases.map(\.rawValue) == ["viewer", "operator", "admin"])
    }

    @Test func helpResultDescribesEveryCommand() throws {
        let commands = try #require(CommandCatalog.helpResult()["commands"]?.arrayValue)
        #expect(commands.count == CommandCatalog.all.count)
        for (entry, spec) in zip(commands, CommandCatalog.all) {
            #expect(entry["name"]?.stringValue == spec.name)
            #expect(entry["min_role"]?.stringValue == spec.minimumRole.rawValue)
            #expect(entry["usage"]?.stringValue == spec.usage)
            #expect(entry["summary"]?.stringValue == spec.summary)
            let args = try #require(entry["args"]?.arrayValue)
            #expect(args.map { $0["name"]?.stringValue } == spec.args.map(\.name))
            #expect(args.map { $0["required"]?.boolValue } == spec.args.map(\.required))
        }
        #expect(isOneLine(CommandCatalog.helpResult().compactString))
    }

    @Test func helpResultOfSomeCommandsListsJustThose() throws {
        let served = CommandCatalog.all.filter { $0.minimumRole == .admin }
        let commands = try #require(CommandCatalog.helpResult(served)["commands"]?.arrayValue)
        #expect(commands.map { $0["name"]?.stringValue } == served.map(\.name))
    }

    @Test func limitDefaults() {
        let limits = Limits()
        #expect(limits.maxLineBytes == 65536)
        #expect(limits.maxConnections == 64)
        #expect(limits.idleTimeout == .seconds(60))
        #expect(Limits.maxResponseLineBytes == 16 * 1024 * 1024)
    }
}
