@testable import ConveyorCLI
import ConveyorProtocol
import Testing

/// The friendly spellings send exactly what the protocol's words form sends.
@Suite struct ArgumentMappingTests {
    @Test func friendlyFormEqualsGenericForm() throws {
        let friendly = try request(["rep", "add", "--team", "rail", "--ref", "ivan", "--role", "account_manager", "--capacity", "40"])
        let generic = try request(["rep.add", "team=rail", "ref=ivan", "role=account_manager", "capacity=40"])
        #expect(friendly == generic)
        #expect(friendly == Request(
            id: "conveyorctl", cmd: "rep.add",
            args: ["team": "rail", "ref": "ivan", "role": "account_manager", "capacity": "40"]))
    }

    @Test(arguments: [
        (["alerts", "--team", "rail", "--severity", "high"], ["alert.list", "team=rail", "severity=high"]),
        (["alert", "list", "--team=rail", "--severity=high"], ["alert.list", "team=rail", "severity=high"]),
        (["reps", "--team", "rail"], ["rep.list", "team=rail"]),
        (["teams"], ["team.list"]),
        (["team", "list"], ["team.list"]),
        (["jobs", "--state", "dead"], ["job.list", "state=dead"]),
        (["status"], ["status"]),
        (["team", "add", "--name", "rail", "--time-zone", "Europe/Berlin", "--scan-local-time", "02:30"],
            ["team.add", "name=rail", "time_zone=Europe/Berlin", "scan_local_time=02:30"]),
        (["win", "--team", "rail", "--account", "acme", "--hunter", "olga"], ["win", "team=rail", "account=acme", "hunter=olga"]),
        (["log", "level", "--level", "debug"], ["log.level", "level=debug"]),
        // Options and words mix, and a catalog name takes options too.
        (["rep", "add", "--team", "rail", "ref=ivan", "name=Ivan Petrov"], ["rep.add", "team=rail", "ref=ivan", "name=Ivan Petrov"]),
        (["rep.add", "--team", "rail", "ref=ivan"], ["rep.add", "team=rail", "ref=ivan"]),
        (["drain", "timeout=5"], ["drain", "timeout=5"]),
    ])
    func spellingsMapToTheCatalogName(friendly: [String], generic: [String]) throws {
        #expect(try request(friendly) == request(generic))
    }

    @Test func globalOptionsGoBeforeOrAfterTheCommand() throws {
        let before = try invocation(["--json", "--socket", "/tmp/a.sock", "--timeout", "2.5", "status"])
        let after = try invocation(["status", "--json", "--socket=/tmp/a.sock", "--timeout=2.5"])
        #expect(before == after)
        #expect(try invocation(["rep.add", "team=rail", "--json"]).settings.json, "also after the words")
        #expect(before.settings == Settings(socketPath: "/tmp/a.sock", json: true, timeout: .seconds(2.5)))
        #expect(try invocation(["--timeout", "0", "ping"]).settings.timeout == nil)
        #expect(try invocation(["ping"]).settings.timeout == .seconds(60))
    }

    @Test func theSocketComesFromTheOptionThenTheEnvironmentThenTheDefault() throws {
        let environment = ["CONVEYOR_ADMIN_SOCKET": "/srv/env.sock"]
        #expect(try invocation(["ping"], environment: environment).settings.socketPath == "/srv/env.sock")
        #expect(try invocation(["--socket", "/x.sock", "ping"], environment: environment).settings.socketPath == "/x.sock")
        #expect(try invocation(["ping"], environment: ["CONVEYOR_ADMIN_SOCKET": ""]).settings.socketPath == "/run/conveyor/admin.sock")
    }

    @Test func aCommandTheCatalogLacksIsSentAsItIs() throws {
        #expect(try request(["no.such.command", "x=1"]) == Request(id: "conveyorctl", cmd: "no.such.command", args: ["x": "1"]))
        #expect(try request(["--json", "frobnicate"]).cmd == "frobnicate")
        // An argument the command does not take is the daemon's to refuse (invalid_argument).
        #expect(try request(["ping", "extra=1"]).args == ["extra": "1"])
    }

    @Test func watchStreamsAndStatusRepeats() throws {
        #expect(try invocation(["watch", "--topics", "alerts"]).streams)
        #expect(try invocation(["watch"]).request.args == [:])
        let repeated = try invocation(["status", "--watch"])
        #expect(repeated.repeats && !repeated.streams)
        #expect(try !invocation(["status"]).repeats)
    }

    @Test func noCommandIsThePrompt() throws {
        #expect(try Action.parse([], environment: [:]) == .prompt(Settings(socketPath: "/run/conveyor/admin.sock", json: false, timeout: .seconds(60))))
        #expect(try Action.parse(["--json"], environment: [:]) == .prompt(Settings(socketPath: "/run/conveyor/admin.sock", json: true, timeout: .seconds(60))))
    }

    @Test func helpWithCommandWordsDescribesTheCommandHere() throws {
        let text = try printed(["help", "rep", "add"])
        #expect(text == (try printed(["rep", "add", "--help"])))
        #expect(text.contains("--capacity <capacity>"))
        #expect(try printed(["help", "rep"]).contains("depart"))
        // `help` alone asks the daemon.
        #expect(try request(["help"]) == Request(id: "conveyorctl", cmd: "help"))
        #expect(parseFailure(["help", "no", "such"])?.exitCode == 2)
    }
}
