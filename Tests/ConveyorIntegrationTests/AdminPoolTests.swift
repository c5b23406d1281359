import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing

/// Admin commands are served from a pool of database connections: one that
/// waits (here `account.reassign`, held on its team's routing lock) leaves
/// `status`, `ping` and `drain` answering at once. Long work (`rep.depart`)
/// is not on that pool at all: it is a job of the work queue, and the
/// command only waits for it.
@Suite struct AdminPoolTests {
    /// The stuck command waits for the test's lock however loaded the machine is.
    static let patient = ["CONVEYOR_ADMIN_STATEMENT_TIMEOUT": "3600"]

    /// How long a command may take that must not wait behind the stuck one,
    /// which waits until the test lets it go (never, while it looks). Wide
    /// on purpose: under the parallel suite the daemon can get no core for
    /// seconds; how fast the answers come is conveyor-bench's to measure.
    static let answeredWithin = Duration.seconds(15)

    /// A daemon with team `t`, account managers `r` and `s`, account `a` won
    /// by closer `h` and handed off, and the team's routing lock held by the
    /// test's own transaction until `body` returns or calls `release`.
    private func withRoutingLocked(
        _ environment: [String: String],
        _ body: (DaemonProcess, _ observer: PostgresConnection, _ release: () throws -> Void) throws -> Void
    ) throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), environment: environment)
        defer { daemon.stop() }
        let setup = try daemon.connect()
        _ = try setup.result("team.add", ["name": "t"])
        for (ref, role) in [("r", "account_manager"), ("s", "account_manager"), ("h", "closer")] {
            _ = try setup.result("rep.add", ["team": "t", "ref": .string(ref), "role": .string(role), "capacity": 5])
        }
        _ = try setup.result("win", ["team": "t", "account": "a", "hunter": "h"])
        let observer = try PostgresConnection(conninfo: daemon.databaseURL)
        #expect(eventually(timeout: .seconds(30)) {
            (try? HandoffDaemon.int(observer, "select count(*)::int from conveyor.handoffs")) == 1
        })
        let blocker = try PostgresConnection(conninfo: daemon.databaseURL)
        try blocker.query("begin")
        try blocker.query("""
            select 1 from conveyor.routing_epochs e join conveyor.teams t on t.id = e.team_id where t.name = 't' for update of e
            """)
        var locked = true
        func release() throws {
            if locked { try blocker.query("commit") }
            locked = false
        }
        try body(daemon, observer, release)
        try release()
    }

    /// Sends `account.reassign` of `a` and waits until it blocks on the team's
    /// routing lock, holding one admin connection; returns its connection.
    private func reassignStuck(_ daemon: DaemonProcess, _ observer: PostgresConnection) throws -> AdminClient {
        let reassigning = try daemon.connect()
        let owner = try HandoffDaemon.int(observer, "select count(*)::int from conveyor.accounts a join conveyor.reps r on r.id = a.owner_id where r.ref = 'r'")
        #expect(try reassigning.writeRaw(Array("account.reassign team=t ref=a to=\(owner == 1 ? "s" : "r")\n".utf8)))
        // Polled from outside the blocker's transaction, which would see one cached pg_stat_activity.
        #expect(eventually(timeout: .seconds(30)) {
            (try? HandoffDaemon.int(observer, "select count(*)::int from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()")) == 1
        })
        return reassigning
    }

    @Test func statusPingAndDrainAnswerWhileAnotherCommandWaits() throws {
        try withRoutingLocked(Self.patient) { daemon, observer, _ in
            let reassigning = try reassignStuck(daemon, observer)
            let client = try daemon.connect()
            for command in ["status", "ping", "rep.list", "drain timeout=0", "resume"] {
                let started = ContinuousClock.now
                let response = try client.response(command, timeout: Self.answeredWithin + .seconds(5))
                #expect(response.isOK, "\(command): \(response.encodedLine())")
                #expect(ContinuousClock.now - started < Self.answeredWithin, "\(command) took \(ContinuousClock.now - started)")
            }
            _ = reassigning
        }
    }

    /// With a pool of one the same `rep.list` waits behind the stuck command, as every
    /// command did when one connection served them all.
    @Test func aPoolOfOneQueuesBehindTheWaitingCommand() throws {
        try withRoutingLocked(Self.patient.merging(["CONVEYOR_ADMIN_DB_CONNECTIONS": "1"]) { $1 }) { daemon, observer, _ in
            let reassigning = try reassignStuck(daemon, observer)
            let client = try daemon.connect()
            #expect(try client.response("ping", timeout: Self.answeredWithin).isOK, "ping needs no database")
            #expect(throws: (any Error).self) { try client.response("rep.list", timeout: .seconds(1)) }
            _ = reassigning
        }
    }

    /// `rep.depart` is a `depart` job: while the team's routing lock is held no
    /// worker can run it, the command reports that it waits (an event a
    /// second) and, even with a pool of one connection, every other command
    /// answers meanwhile. Once the lock is free the job runs and the command
    /// answers with its redistribution, which the job keeps as its output.
    @Test func aDepartureWaitsForItsJobWithoutHoldingAnAdminConnection() throws {
        try withRoutingLocked(["CONVEYOR_ADMIN_DB_CONNECTIONS": "1"]) { daemon, observer, release in
            let client = try daemon.connect()
            let departing = try daemon.connect()
            let owner = try observer.query("select r.ref from conveyor.accounts a join conveyor.reps r on r.id = a.owner_id")[0]["ref"].string()
            #expect(try departing.writeRaw(Array(#"{"id":"d","cmd":"rep.depart","args":{"team":"t","ref":"\#(owner)"}}"#.utf8 + [10])))
            let event = try Response.parse(line: try #require(try departing.readLine(timeout: .seconds(30)), "a progress event"))
            guard case .event(let id, let progress) = event else {
                Issue.record("expected a progress event first, got \(event.encodedLine())")
                return
            }
            #expect(id == "d")
            #expect(progress["job"]?["kind"] == "depart" && progress["job"]?["state"] == "available", "\(progress)")
            for command in ["status", "rep.list", "job.list"] {
                let started = ContinuousClock.now
                let response = try client.response(command, timeout: Self.answeredWithin + .seconds(5))
                #expect(response.isOK, "\(command): \(response.encodedLine())")
                #expect(ContinuousClock.now - started < Self.answeredWithin, "\(command) took \(ContinuousClock.now - started)")
            }
            try release()
            var answer: Response?
            while answer == nil, let line = try departing.readLine(timeout: .seconds(30)) {
                if case .event = try Response.parse(line: line) { continue }
                answer = try Response.parse(line: line)
            }
            let result = try #require(answer?.result, "\(String(describing: answer))")
            let moves = try #require(result["redistribution"]?.arrayValue, "\(result)")
            #expect(moves.count == 1 && moves[0]["account"] == "a" && moves[0]["owner"]?.stringValue != nil, "\(result)")
            let jobId = try #require(result["job_id"]?.intValue, "\(result)")
            let job = try observer.query("select kind, state, output::text as output from conveyor.jobs where id = $1", [jobId])[0]
            #expect(try job["kind"].string() == "depart" && job["state"].string() == "succeeded")
            #expect(try JSONValue(parsing: try job["output"].string()) == result["redistribution"])
        }
    }

    /// A read that hangs (here: `status` behind an exclusive lock on the
    /// queue) is cancelled after `admin_statement_timeout`: `status` answers
    /// that the database did not, instead of waiting until the lock goes,
    /// and a command that needs the database answers `timeout`.
    ///
    /// The statement timeout is the least there is, 0.1 s, so that the
    /// cancellation comes well within status's own 2 s patience (which would
    /// answer without naming the statement timeout) on a loaded machine. The
    /// lock is held until both answered: waiting for it, neither would answer
    /// within `answeredWithin`.
    @Test func aHungReadAnswersTimeoutAfterTheStatementTimeout() throws {
        let daemon = try DaemonProcess(
            database: try TestPostgres.makeDatabase(), environment: ["CONVEYOR_ADMIN_STATEMENT_TIMEOUT": "0.1"])
        defer { daemon.stop() }
        let client = try daemon.connect()
        #expect(try client.response("status", timeout: .seconds(30)).isOK)
        let blocker = try PostgresConnection(conninfo: daemon.databaseURL)
        try blocker.query("begin")
        try blocker.query("lock table conveyor.jobs in access exclusive mode")
        // Past the 250 ms within which status shares its last read.
        Thread.sleep(forTimeInterval: 0.3)
        let started = ContinuousClock.now
        let hung = try client.result("status")
        #expect(hung["database"]?["reachable"] == false, "\(hung)")
        #expect(hung["database"]?["error"]?.stringValue?.contains("statement timeout") == true, "\(hung)")
        let listed = try client.response("job.list", timeout: Self.answeredWithin + .seconds(5))
        #expect(listed.errorCode == .timeout, "\(listed.encodedLine())")
        #expect(ContinuousClock.now - started < Self.answeredWithin, "took \(ContinuousClock.now - started)")
        try blocker.query("commit")
        #expect(try client.response("status", timeout: .seconds(30)).isOK, "the pool's connection is usable again")
    }

    /// Sends `rep.depart` of the account's owner, which cannot run while the
    /// test holds the routing lock, and reads its first progress event.
    private func departWaiting(_ daemon: DaemonProcess, _ observer: PostgresConnection) throws -> AdminClient {
        let departing = try daemon.connect()
        let owner = try observer.query("select r.ref from conveyor.accounts a join conveyor.reps r on r.id = a.owner_id")[0]["ref"].string()
        #expect(try departing.writeRaw(Array(#"{"id":"d","cmd":"rep.depart","args":{"team":"t","ref":"\#(owner)"}}"#.utf8 + [10])))
        let event = try Response.parse(line: try #require(try departing.readLine(timeout: .seconds(30)), "a progress event"))
        if case .event = event {} else { Issue.record("expected a progress event, got \(event.encodedLine())") }
        return departing
    }

    /// A client that leaves while its `rep.depart` waits frees its
    /// connection within a progress interval (at the latest when the next
    /// progress event finds it gone; kept waiting, it would be held until the
    /// lock goes, after the check); the job still runs once the lock is free.
    @Test func aClientLeavingStopsTheWaitButNotTheJob() throws {
        try withRoutingLocked(Self.patient) { daemon, observer, release in
            let departing = try departWaiting(daemon, observer)
            let client = try daemon.connect()
            func requestConnections() throws -> Double? {
                samples(try client.result("metrics")["text"]?.stringValue ?? "", "conveyor_admin_connections")[#"{kind="requests"}"#]
            }
            let before = try #require(try requestConnections())
            departing.close()
            let freed = try HandoffDaemon.waitUntil(timeout: 30, interval: 0.1) { try requestConnections() == before - 1 }
            #expect(freed, "the departed client's connection is freed: \(String(describing: try? requestConnections())) of \(before)")
            try release()
            #expect(try HandoffDaemon.waitUntil(timeout: 30, interval: 0.05) {
                try HandoffDaemon.int(observer, "select count(*)::int from conveyor.jobs where kind = 'depart' and state = 'succeeded'") == 1
            })
        }
    }

    /// SIGTERM while a `rep.depart` waits for a job that cannot run: the
    /// command answers where the job stands and the daemon exits, instead of
    /// waiting for the job until it is killed.
    @Test func shutdownEndsTheWaitWithTheJobsState() throws {
        try withRoutingLocked(Self.patient) { daemon, observer, _ in
            let departing = try departWaiting(daemon, observer)
            daemon.signal(SIGTERM)
            var answer: Response?
            while answer == nil, let line = try departing.readLine(timeout: .seconds(30)) {
                if case .event = try Response.parse(line: line) { continue }
                answer = try Response.parse(line: line)
            }
            let result = try #require(answer?.result, "\(String(describing: answer))")
            #expect(result["finished"] == false && result["state"] == "available" && result["job_id"]?.intValue != nil, "\(result)")
            #expect(try daemon.waitForExit(timeout: .seconds(30)) == 0)
        }
    }
}
