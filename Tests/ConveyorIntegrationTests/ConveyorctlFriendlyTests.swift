import ConveyorProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `conveyorctl` against the real `conveyord` in its friendly spellings: words
/// and options instead of `key=value`, tables for people, one clear line when the socket
/// is out of reach, and `watch` one line per event.
@Suite struct ConveyorctlFriendlyTests {
    private func withDaemon(_ body: (DaemonProcess) throws -> Void) throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), environment: ["CONVEYOR_IDLE_TIMEOUT": "2"])
        defer { daemon.stop() }
        try body(daemon)
    }

    private func expectOK(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)", sourceLocation: sourceLocation)
    }

    @Test func friendlyCommandsChangeAndShowTheDirectory() throws {
        try withDaemon { daemon in
            expectOK(try daemon.ctl(["team", "add", "--name", "rail", "--time-zone", "UTC"]))
            let added = try daemon.ctl(["rep", "add", "--team", "rail", "--ref", "ivan", "--role", "account_manager", "--capacity", "40", "--skills", "rail,customs"])
            expectOK(added)
            #expect(added.stdout.contains("rep.skills") && added.stdout.contains("rail,customs"), "\(added.stdout)")

            let table = try daemon.ctl(["reps", "--team", "rail"])
            expectOK(table)
            let lines = table.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "a header and one rep: \(table.stdout)")
            #expect(lines.first?.hasPrefix("id  team  ref   name") == true, "\(table.stdout)")
            #expect(lines.last?.contains("rail,customs") == true && !table.stdout.contains("["), "no JSON in a table: \(table.stdout)")

            // The same request, whatever the spelling.
            let friendly = try daemon.ctl(["--json", "rep", "list", "--team", "rail"])
            let generic = try daemon.ctl(["--json", "rep.list", "team=rail"])
            expectOK(friendly)
            #expect(friendly.stdout == generic.stdout)
            #expect(try JSONValue(parsing: friendly.stdout)["reps"]?.arrayValue?.first?["ref"] == "ivan")

            let status = try daemon.ctl(["status"])
            expectOK(status)
            #expect(status.stdout.split(separator: "\n").contains { $0.hasPrefix("database.reachable") && $0.hasSuffix("true") }, "\(status.stdout)")

            // The daemon's refusals keep their exit codes; the command line's own mistakes are 2.
            let duplicate = try daemon.ctl(["rep", "add", "--team", "rail", "--ref", "ivan", "--role", "closer"])
            #expect(duplicate.status == ErrorCode.conflict.exitCode, "\(duplicate)")
            #expect(duplicate.stderrLines.count == 1 && duplicate.stderr.hasPrefix("conveyorctl: conflict: "), "\(duplicate)")
            let missing = try daemon.ctl(["rep", "add", "--team", "rail", "--role", "closer"])
            #expect(missing.status == ErrorCode.invalidArgument.exitCode, "\(missing)")
            let unknown = try daemon.ctl(["rep", "add", "--team", "rail", "--colour", "red"])
            #expect(unknown.status == 2 && unknown.stderr.contains("Unknown option '--colour'"), "\(unknown)")
        }
    }

    @Test func aSocketNobodyMayUseSaysWhatToCheck() throws {
        try OtherUser.requireNobody()
        try withDaemon { daemon in
            let refused = try daemon.ctl(["ping"], asUser: OtherUser.nobody)
            #expect(refused.status == 3, "\(refused)")
            #expect(refused.stderr == "conveyorctl: permission denied on \(daemon.socketPath): you need to be in the socket's group (socket_group in conveyor.conf)\n")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func watchPrintsAHandoffAsOneLineForPeople() throws {
        try withDaemon { daemon in
            expectOK(try daemon.ctl(["team", "add", "--name", "rail", "--time-zone", "UTC"]))
            expectOK(try daemon.ctl(["rep", "add", "--team", "rail", "--ref", "olga", "--role", "closer"]))
            expectOK(try daemon.ctl(["rep", "add", "--team", "rail", "--ref", "ivan", "--role", "account_manager", "--capacity", "5"]))
            let directory = try TemporaryDirectory.make("cvy-fwatch")
            defer { TemporaryDirectory.remove(directory) }
            let out = directory + "/stdout", err = directory + "/stderr"
            let pid = try Spawn.start([try Binaries.conveyorctl(), "--socket", daemon.socketPath, "watch", "--topics", "handoffs"], stdout: out, stderr: err)
            defer {
                kill(pid, SIGKILL)
                _ = Spawn.wait(pid, timeout: .seconds(5))
            }
            let printed = { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
            // Nothing shows when the stream is up (heartbeats are not printed): win accounts
            // until one's handoff arrives.
            let deadline = ContinuousClock.now + .seconds(40)
            var account = 0
            while !printed().contains("handoff"), ContinuousClock.now < deadline {
                account += 1
                expectOK(try daemon.ctl(["win", "--team", "rail", "--account", "acme\(account)", "--hunter", "olga"]))
                usleep(500_000)
            }
            let lines = printed().split(separator: "\n").map(String.init)
            #expect(!lines.isEmpty)
            for line in lines {
                #expect(line.range(of: #"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ  handoff  rail/acme\d+  olga → ivan  \(auto\)$"#, options: .regularExpression) != nil, "\(line)")
            }
            #expect((try? String(contentsOfFile: err, encoding: .utf8)) == "")
        }
    }
}
