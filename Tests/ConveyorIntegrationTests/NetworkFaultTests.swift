import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing

/// Network faults between the real `conveyord` and a real PostgreSQL, made
/// by a proxy on loopback (`FaultProxy`): a silent, half-open network (the
/// proxy's kernel acknowledges everything, nothing gets through), resets and
/// refused connections. The daemon's bound is set low in the conninfo
/// (keepalives 1 + 1 × 1 = 2 s), so each test takes seconds; far below the
/// 60 s a conninfo without them gets, so what takes the default bound, or
/// none, is told apart with bounds wide enough for a loaded machine.
///
/// Serialized: each measures how soon the daemon notices.
@Suite(.serialized) struct NetworkFaultTests {
    /// A silent connection is cut after 2 s; connecting gives up after 2 s.
    static let tightBounds = " keepalives_idle=1 keepalives_interval=1 keepalives_count=1 connect_timeout=2"
    /// Workers poll every 0.5 s; `watch` beats every 2.5 s (idle_timeout / 2); idle_timeout stays
    /// above status's 2 s patience, or the daemon would close a `status` connection as idle first.
    static let environment = ["CONVEYOR_LOG_LEVEL": "notice", "CONVEYOR_POLL_INTERVAL": "0.5", "CONVEYOR_IDLE_TIMEOUT": "5"]

    /// Team `rail` with closer `ivan` and manager `olga` (SQL, direct), a daemon
    /// reaching the database only through the proxy.
    final class Setup {
        let world: HandoffWorld
        let proxy: FaultProxy
        let daemon: DaemonProcess

        init(bounds: String = NetworkFaultTests.tightBounds, environment: [String: String] = NetworkFaultTests.environment) throws {
            world = try HandoffWorld()
            try world.addManager("olga", capacity: 1000)
            proxy = try FaultProxy()
            daemon = try DaemonProcess(database: proxy.conninfo(world.conninfo) + bounds, environment: environment)
        }

        deinit {
            daemon.stop()
            proxy.stop()
        }

        /// Records the wins by SQL on the test's own connection (not through the proxy).
        func win(_ accounts: [String]) throws {
            for account in accounts { try world.win(account) }
        }

        /// How many of `accounts` are active.
        func active(_ accounts: [String]) throws -> Int {
            try world.count("select count(*)::int from conveyor.accounts where ref = any($1::text[]) and stage = 'active'", [accounts])
        }

        /// Waits until all of `accounts` are active (a hang guard: reconnecting backs off for
        /// seconds after a long fault); then checks each was handed off exactly once.
        func expectHandedOffOnce(_ accounts: [String], timeout: Double = 60, sourceLocation: SourceLocation = #_sourceLocation) throws {
            _ = try HandoffDaemon.waitUntil(timeout: timeout, interval: 0.05) { try active(accounts) == accounts.count }
            let done = try active(accounts)
            #expect(done == accounts.count, "handed off: \(done) of \(accounts.count); log:\n\(daemon.log.suffix(4000))", sourceLocation: sourceLocation)
            let handoffs = try world.db.query("""
                select a.ref, count(h.id)::int as handoffs from conveyor.accounts a
                left join conveyor.handoffs h on h.account_id = a.id where a.ref = any($1::text[]) group by a.ref
                """, [accounts]).map { (try $0["ref"].string(), try $0["handoffs"].int()) }
            #expect(handoffs.count == accounts.count && handoffs.allSatisfy { $0.1 == 1 }, "handoffs per account: \(handoffs)", sourceLocation: sourceLocation)
            let jobs = try world.count("""
                select count(*)::int from conveyor.jobs j join conveyor.accounts a on a.id = (j.payload->>'account_id')::bigint
                where a.ref = any($1::text[]) and j.kind = 'handoff' and j.state <> 'succeeded'
                """, [accounts])
            #expect(jobs == 0, "handoff jobs not done", sourceLocation: sourceLocation)
        }

        /// `status` on a connection of its own (idle ones close after idle_timeout), and how long it took to answer.
        func status() throws -> (result: JSONValue, took: Duration) {
            let began = ContinuousClock.now
            let result = try daemon.connect().result("status")
            return (result, .now - began)
        }

        func phases(_ status: JSONValue) -> [String] {
            ((status["workers"]?["phases"]?.arrayValue ?? []) + (status["workers"]?["long_lane"]?.arrayValue ?? [])).compactMap(\.stringValue)
        }
    }

    /// The bound here is 8 s (keepalives 6 + 1 × 2), so that a `status` that waited
    /// for the database instead of its 2 s patience would wait for the cut, 16 s or
    /// more (the bound, a patrol, the watchdog's own connect_timeout of the bound):
    /// `answeredWithin` between the two leaves 7 s each way. Noticed after about
    /// 20 s; `noticedWithin` is wide, and far below what the default 60 s bound takes.
    /// idle_timeout 30 s: a status connection waiting out the patience on a loaded
    /// machine is not closed as idle first.
    @Test func aSilentNetworkIsNoticedWithinTheBoundAndWinsAreHandedOffOnceWhenItComesBack() throws {
        let answeredWithin = Duration.seconds(9)
        let noticedWithin = Duration.seconds(40)
        let setup = try Setup(
            bounds: " keepalives_idle=6 keepalives_interval=1 keepalives_count=2 connect_timeout=2",
            environment: Self.environment.merging(["CONVEYOR_IDLE_TIMEOUT": "30"]) { $1 })
        try setup.win(["before"])
        try setup.expectHandedOffOnce(["before"])

        setup.proxy.stall()
        let stalled = ContinuousClock.now
        let during = (1...5).map { "stalled-\($0)" }
        try setup.win(during)
        // Noticed: the workers' next round trip (within poll_interval) waits past the bound,
        // and the watchdog's own connection cannot get through either (connect_timeout).
        var truthful: (status: JSONValue, at: Duration)?
        var slowest = Duration.zero
        while ContinuousClock.now - stalled < noticedWithin + .seconds(10), truthful == nil {
            let (status, took) = try setup.status()
            slowest = max(slowest, took)
            if status["database"]?["reachable"] == false, setup.phases(status).contains("reconnecting") {
                truthful = (status, .now - stalled)
            }
            usleep(200_000)
        }
        let noticed = try #require(truthful, "status never showed the fault; log:\n\(setup.daemon.log.suffix(4000))")
        // poll_interval + the bound + a patrol (a quarter of it) + the watchdog's connect_timeout + status's patience: 20.5 s.
        #expect(noticed.at < noticedWithin, "noticed after \(noticed.at)")
        #expect(slowest < answeredWithin, "status must answer within its 2 s patience during the fault: slowest \(slowest)")
        #expect(setup.daemon.log.contains("cut connections that waited too long for PostgreSQL"))
        #expect(setup.daemon.log.contains("worker lost its PostgreSQL connection"))
        let through = try setup.active(during)
        #expect(through == 0, "nothing gets through a stalled network")

        setup.proxy.pass()
        try setup.expectHandedOffOnce(during)
        let recovered = eventually(timeout: .seconds(60)) {
            guard let status = try? setup.status().result else { return false }
            return status["database"]?["reachable"] == true && setup.phases(status).allSatisfy { $0 == "connected" }
        }
        let after = try setup.status().result
        #expect(recovered, "status after the fault: \(after)")
        let text = try #require(try setup.daemon.connect().result("metrics")["text"]?.stringValue)
        #expect((samples(text, "conveyor_database_connections_cut_total")[""] ?? 0) >= 1, "metrics:\n\(text)")
    }

    @Test func resetsAndRefusedConnectionsLoseAndRepeatNothing() throws {
        let setup = try Setup()
        let accounts = (1...30).map { "reset-\($0)" }
        for chunk in stride(from: 0, to: accounts.count, by: 10) {
            try setup.win(Array(accounts[chunk..<chunk + 10]))
            usleep(100_000)
            setup.proxy.reset()
        }
        setup.proxy.refuse()
        setup.proxy.reset()
        try setup.win(["refused"])
        usleep(1_000_000)
        let through = try setup.active(["refused"])
        #expect(through == 0, "no connection gets through while refused")
        setup.proxy.pass()
        try setup.expectHandedOffOnce(accounts + ["refused"])
        #expect(setup.daemon.log.contains("worker lost its PostgreSQL connection"))
        #expect(setup.daemon.log.contains("worker reconnected to PostgreSQL"))
    }

    /// The watch ends within a few seconds (the cut, or the idle timeout); `endedWithin`
    /// is wide for a loaded machine and far below the default 60 s bound.
    @Test func aWatchOnASilentConnectionEndsWithinTheBoundAndTheNextWatchGetsEvents() throws {
        let endedWithin = Duration.seconds(30)
        let setup = try Setup()
        let watcher = try WatchAndAlertTests.Watcher(setup.daemon, id: "w1", topics: "handoffs")
        try setup.win(["seen"])
        let seen = try watcher.next { $0["type"] == "handoff" && $0["account"] == "seen" }
        #expect(seen != nil, "events: \(watcher.seen)")

        setup.proxy.stall()
        let stalled = ContinuousClock.now
        // It ends with `unavailable` once the hub's connection is cut, or is closed as idle
        // (no heartbeat comes while the hub's round trip hangs) when idle_timeout comes first.
        var ending: String?
        while ending == nil, ContinuousClock.now - stalled < endedWithin + .seconds(10) {
            do {
                guard let line = try watcher.client.readLine(timeout: .seconds(1)) else {
                    ending = "closed"
                    break
                }
                if case .error = try Response.parse(line: line) { ending = line }
            } catch let failure as AdminClient.Failure where failure.description.hasPrefix("no answer") {
                continue
            }
        }
        let line = try #require(ending, "the watch never ended on its silent connection; log:\n\(setup.daemon.log.suffix(3000))")
        #expect(line == "closed" || line.contains("\"unavailable\""), "\(line)")
        #expect(ContinuousClock.now - stalled < endedWithin, "ended after \(ContinuousClock.now - stalled)")

        setup.proxy.pass()
        // A new watch opens a new connection (the stalled one never forwards again). One that
        // joined the old hub just before it was cut ends with `unavailable`: watch again, as clients do.
        var events: [JSONValue] = []
        for attempt in 1...3 {
            let next = try WatchAndAlertTests.Watcher(setup.daemon, id: "w\(attempt + 1)", topics: "handoffs")
            try setup.win(["after-\(attempt)"])
            do {
                if try next.next(timeout: .seconds(20), where: { $0["type"] == "handoff" && $0["account"] == .string("after-\(attempt)") }) != nil {
                    events = next.seen
                    break
                }
            } catch {
                events = next.seen
            }
        }
        #expect(events.contains { $0["type"] == "handoff" }, "a watch after the fault gets handoffs: \(events)")
    }
}
