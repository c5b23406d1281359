import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `watch`, `alert.list`, `alert.ack` and `alert.snooze` against the real
/// `conveyord`: the event stream (handoffs, alerts, jobs, heartbeats) with its
/// topic filter, idle timeout and clean-up when watchers go, `conveyorctl
/// watch`, and the alert commands' happy paths, state conflicts, bad input and
/// audit rows. Teams and reps are set up over the socket; alerts the router
/// does not make are inserted with SQL, as an integration or the nightly scan
/// would. Every wait is bounded.
@Suite struct WatchAndAlertTests {
    static let quiet = ["CONVEYOR_LOG_LEVEL": "notice"]

    // MARK: - Support

    /// A daemon on a fresh database and a SQL connection to that database; the daemon is
    /// stopped when `body` returns.
    private func withDaemon(
        _ environment: [String: String] = [:], _ body: (DaemonProcess, PostgresConnection) throws -> Void
    ) throws {
        let conninfo = try TestPostgres.makeDatabase()
        let daemon = try DaemonProcess(database: conninfo, environment: Self.quiet.merging(environment) { _, new in new })
        defer { daemon.stop() }
        try body(daemon, try TestPostgres.connect(conninfo))
    }

    /// A `watch` connection: the acknowledgement is checked exactly, then event lines are
    /// read with deadlines. Any line that is not an event for our request fails the read.
    final class Watcher {
        let client: AdminClient
        let id: String
        /// Every event read so far, in order.
        private(set) var seen: [JSONValue] = []

        init(_ daemon: DaemonProcess, id: String = "w1", topics: String? = nil) throws {
            client = try daemon.connect()
            self.id = id
            let args: [String: JSONValue] = topics.map { ["topics": .string($0)] } ?? [:]
            let ack = try client.send(Request(id: .string(id), cmd: "watch", args: args).encodedLine())
            guard Self.isStreamingAcknowledgement(ack, id: .string(id)) else {
                throw TestSetupError("watch was not acknowledged with streaming:true: \(ack)")
            }
        }

        /// `{"id":…,"ok":true,"result":{"streaming":true,…}}` (the result may carry more members).
        static func isStreamingAcknowledgement(_ line: String, id: JSONValue) -> Bool {
            guard case .ok(let ackID, let result)? = try? Response.parse(line: line) else { return false }
            return ackID == id && result["streaming"] == true && line.hasPrefix(#"{"id":\#(id.compactString),"ok":true,"result":{"#)
        }

        /// Reads events until one matches `predicate` and returns it; nil when none came
        /// within `timeout`. Throws when the daemon closes the stream or sends anything else.
        /// The default only guards against a hang (it ends when the event comes): generous,
        /// as the daemon can get no core for seconds under the parallel suite.
        func next(timeout: Duration = .seconds(30), where predicate: (JSONValue) -> Bool) throws -> JSONValue? {
            let deadline = ContinuousClock.now + timeout
            while true {
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero, let event = try read(timeout: remaining) else { return nil }
                if predicate(event) { return event }
            }
        }

        /// Every event that arrives within `duration` (the stream must stay open).
        func drain(for duration: Duration) throws -> [JSONValue] {
            let deadline = ContinuousClock.now + duration
            var events: [JSONValue] = []
            while true {
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero, let event = try read(timeout: remaining) else { return events }
                events.append(event)
            }
        }

        /// The next event, nil on timeout.
        private func read(timeout: Duration) throws -> JSONValue? {
            let line: String?
            do {
                line = try client.readLine(timeout: timeout)
            } catch let failure as AdminClient.Failure where failure.description.hasPrefix("no answer") {
                return nil
            }
            guard let line else { throw TestSetupError("the daemon closed the watch stream; events so far: \(seen)") }
            guard case .event(let eventID, let event) = try Response.parse(line: line), eventID == .string(id) else {
                throw TestSetupError("not an event of watch \(id): \(line)")
            }
            seen.append(event)
            return event
        }
    }

    private static func isEvent(_ type: String, account: String? = nil, status: String? = nil) -> (JSONValue) -> Bool {
        { event in
            event["type"] == .string(type)
                && (account == nil || event["account"] == .string(account!))
                && (status == nil || event["status"] == .string(status!))
        }
    }

    private static func date(_ value: JSONValue?) -> Date? {
        value?.stringValue.flatMap {
            (try? Date.ISO8601FormatStyle().parse($0)) ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0))
        }
    }

    private static func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }

    /// Team `team` (UTC), closer `ivan` and the given account managers, over the socket.
    private func addTeam(_ client: AdminClient, _ team: String, managers: [(ref: String, capacity: Int64)] = []) throws {
        _ = try client.result("team.add", ["name": .string(team), "time_zone": "UTC"])
        _ = try client.result("rep.add", ["team": .string(team), "ref": "ivan", "role": "closer"])
        for manager in managers {
            _ = try client.result("rep.add", [
                "team": .string(team), "ref": .string(manager.ref), "role": "account_manager", "capacity": .int(manager.capacity),
            ])
        }
    }

    /// Inserts an account of `team` and an alert on it straight into the tables (as the
    /// nightly scan or an integration would); returns the alert id.
    @discardableResult
    private func insertAlert(
        _ db: PostgresConnection, team: String, account: String, kind: String = "single_threaded", status: String = "open"
    ) throws -> Int64 {
        try db.query(
            """
            with t as (select id from conveyor.teams where name = $1),
            a as (insert into conveyor.accounts (team_id, ref, stage) select id, $2, 'active' from t returning id, team_id)
            insert into conveyor.alerts (team_id, account_id, kind, severity, status, resolved_at, details)
            select team_id, id, $3, 'high', $4::text, case when $4::text = 'resolved' then now() end, '{"share": 0.9}'
            from a
            returning id
            """, [team, account, kind, status])[0]["id"].int64()
    }

    private func alertRow(_ db: PostgresConnection, _ id: Int64) throws -> (status: String, snoozedUntil: Date?) {
        let row = try db.query("select status, snoozed_until from conveyor.alerts where id = $1", [id])[0]
        return (try row["status"].string(), try row["snoozed_until"].optionalDate())
    }

    /// The daemon's `watch` connections to this test's database.
    private func watchConnections(_ db: PostgresConnection) throws -> Int64 {
        try db.query(
            """
            select count(*) as n from pg_stat_activity
            where application_name = 'conveyord-watch' and datname = current_database()
            """)[0]["n"].int64()
    }

    /// Polls `watchConnections` until it equals `expected`; returns the last count seen.
    private func waitForWatchConnections(_ db: PostgresConnection, _ expected: Int64, timeout: Duration) throws -> Int64 {
        let deadline = ContinuousClock.now + timeout
        while true {
            let count = try watchConnections(db)
            if count == expected || ContinuousClock.now >= deadline { return count }
            usleep(50_000)
        }
    }

    private func expectError(
        _ response: Response, _ code: ErrorCode, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.errorCode == code, "\(comment) \(response.encodedLine().prefix(300))", sourceLocation: sourceLocation)
    }

    // MARK: - watch: handoffs and alerts as they happen

    /// Two wins into a team whose only manager has capacity 1: the first is handed off
    /// (from the hunter to the manager, kind auto), the second opens a no_eligible_manager
    /// alert; raising the capacity hands it off and resolves that alert. The watcher sees
    /// each of these, with the request's id on every line, and jobs_enqueued for the wins.
    @Test func watcherSeesHandoffsAndTheNoEligibleManagerAlertOpenAndResolve() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail", managers: [("olga", 1)])
            let watcher = try Watcher(daemon, id: "w1")

            _ = try client.result("win", ["team": "rail", "account": "acme", "hunter": "ivan"])
            let first = try #require(try watcher.next(where: Self.isEvent("handoff", account: "acme")), "events: \(watcher.seen)")
            #expect(first["team"] == "rail")
            #expect(first["from"] == "ivan")
            #expect(first["to"] == "olga")
            #expect(first["kind"] == "auto")
            let acmeHandoff = try db.query(
                "select h.id from conveyor.handoffs h join conveyor.accounts a on a.id = h.account_id where a.ref = 'acme'")
            #expect(acmeHandoff.count == 1)
            if acmeHandoff.count == 1 { #expect(first["id"]?.intValue == (try acmeHandoff[0]["id"].int64())) }
            let at = try #require(Self.date(first["at"]), "at is ISO 8601: \(first)")
            #expect(abs(at.timeIntervalSinceNow) < 60)
            #expect(watcher.seen.contains(where: Self.isEvent("jobs_enqueued")), "a win enqueues a job: \(watcher.seen)")

            _ = try client.result("win", ["team": "rail", "account": "beta", "hunter": "ivan"])
            let opened = try #require(
                try watcher.next(where: Self.isEvent("alert", account: "beta", status: "open")), "events: \(watcher.seen)")
            #expect(opened["kind"] == "no_eligible_manager")
            #expect(opened["team"] == "rail")
            let alertID = try #require(opened["id"]?.intValue)
            #expect(!watcher.seen.contains(where: Self.isEvent("handoff", account: "beta")), "beta must wait: \(watcher.seen)")
            let listed = try client.result("alert.list", ["team": "rail"])["alerts"]?.arrayValue ?? []
            #expect(listed.map { $0["id"]?.intValue } == [alertID], "\(listed)")

            _ = try client.result("rep.update", ["team": "rail", "ref": "olga", "capacity": 2])
            let second = try #require(try watcher.next(where: Self.isEvent("handoff", account: "beta")), "events: \(watcher.seen)")
            #expect(second["from"] == "ivan")
            #expect(second["to"] == "olga")
            #expect(second["kind"] == "auto")
            let isResolved = { (event: JSONValue) in
                event["type"] == "alert" && event["id"]?.intValue == alertID && event["status"] == "resolved"
            }
            var resolvedEvent = watcher.seen.first(where: isResolved)
            if resolvedEvent == nil { resolvedEvent = try watcher.next(where: isResolved) }
            let resolved = try #require(resolvedEvent, "the alert is resolved once beta is routed: \(watcher.seen)")
            #expect(resolved["kind"] == "no_eligible_manager")
            #expect(Self.date(resolved["resolved_at"]) != nil, "\(resolved)")
            for event in watcher.seen {
                #expect(event["type"]?.stringValue.map { ["handoff", "alert", "jobs_enqueued", "heartbeat"].contains($0) } == true, "\(event)")
            }
            // Resolved alerts leave the default list and show under status=resolved.
            #expect(try client.result("alert.list", ["team": "rail"])["alerts"] == [])
            let resolvedList = try client.result("alert.list", ["team": "rail", "status": "resolved"])["alerts"]?.arrayValue ?? []
            #expect(resolvedList.map { $0["id"]?.intValue } == [alertID])
        }
    }

    /// `topics` filters: handoffs-only watchers see no alert or job events, alerts-only
    /// watchers no handoffs or jobs, jobs-only watchers only jobs_enqueued.
    @Test func topicsFilterTheStream() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "sea")
            let handoffs = try Watcher(daemon, id: "h", topics: "handoffs")
            let alerts = try Watcher(daemon, id: "a", topics: "alerts")
            let jobs = try Watcher(daemon, id: "j", topics: "jobs")
            let both = try Watcher(daemon, id: "b", topics: "handoffs,alerts")

            // No manager: the win opens an alert; then a manager arrives and takes the account.
            _ = try client.result("win", ["team": "sea", "account": "acme", "hunter": "ivan"])
            #expect(try alerts.next(where: Self.isEvent("alert", account: "acme", status: "open")) != nil, "\(alerts.seen)")
            #expect(try jobs.next(where: Self.isEvent("jobs_enqueued")) != nil, "\(jobs.seen)")
            _ = try client.result("rep.add", ["team": "sea", "ref": "olga", "role": "account_manager", "capacity": 5])
            #expect(try handoffs.next(where: Self.isEvent("handoff", account: "acme")) != nil, "\(handoffs.seen)")
            #expect(try alerts.next(where: Self.isEvent("alert", account: "acme", status: "resolved")) != nil, "\(alerts.seen)")
            #expect(try both.next(where: Self.isEvent("handoff", account: "acme")) != nil, "\(both.seen)")
            #expect(both.seen.contains(where: Self.isEvent("alert", account: "acme", status: "open")), "\(both.seen)")

            // Anything that slipped through the filters would have arrived by now.
            for watcher in [handoffs, alerts, jobs, both] { _ = try watcher.drain(for: .milliseconds(500)) }
            let types = { (watcher: Watcher) in Set(watcher.seen.compactMap { $0["type"]?.stringValue }) }
            #expect(types(handoffs) == ["handoff"], "\(handoffs.seen)")
            #expect(types(alerts) == ["alert"], "\(alerts.seen)")
            #expect(types(jobs) == ["jobs_enqueued"], "\(jobs.seen)")
            #expect(types(both) == ["handoff", "alert"], "\(both.seen)")
        }
    }

    @Test func unknownTopicIsInvalidArgumentAndTheConnectionStaysUsable() throws {
        try withDaemon { daemon, _ in
            let client = try daemon.connect()
            for topics in ["bogus", "handoffs,bogus", "HANDOFFS", String(repeating: "x", count: 10_000)] {
                let response = try client.request("watch", ["topics": .string(topics)], id: "t")
                expectError(response, .invalidArgument, "topics=\(topics.prefix(20))")
                #expect(response.id == "t")
                #expect(try client.response("ping").isOK, "usable after topics=\(topics.prefix(20))")
            }
            expectError(try client.request("watch", ["topic": "handoffs"]), .invalidArgument, "misspelt argument")
            // The same connection can still start a real watch.
            let ack = try client.send(#"{"id":"ok","cmd":"watch","args":{"topics":"jobs"}}"#)
            #expect(Watcher.isStreamingAcknowledgement(ack, id: "ok"), "\(ack)")
        }
    }

    /// Events that happen after the `streaming:true` acknowledgement are delivered: the
    /// stream must be listening before it says it is.
    @Test func eventsRightAfterTheAcknowledgementAreDelivered() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "air")
            let ids = try (0..<3).map { try insertAlert(db, team: "air", account: "acct\($0)") }
            for id in ids {
                let watcher = try Watcher(daemon, id: "r\(id)", topics: "alerts")
                _ = try client.result("alert.ack", ["id": .int(id)])
                let event = try watcher.next { $0["id"]?.intValue == id && $0["status"] == "acknowledged" }
                #expect(event != nil, "alert \(id) acknowledged right after the watch was acknowledged; seen: \(watcher.seen)")
            }
        }
    }

    // MARK: - watch: heartbeats, idle timeout, other clients, clean-up

    /// With idle_timeout 10 s the heartbeat is every 5 s: the first comes long before the
    /// 30 s that heartbeats are capped at, and they keep the watch open well past the idle
    /// timeout, which still closes a quiet ordinary connection. A heartbeat may come up to
    /// 5 s late (a loaded machine) before the idle timeout closes the watch; with 2 s the
    /// margin was 1 s.
    @Test func heartbeatsKeepAWatchOpenPastTheIdleTimeout() throws {
        try withDaemon(["CONVEYOR_IDLE_TIMEOUT": "10"]) { daemon, db in
            let quiet = try daemon.connect()
            let watcher = try Watcher(daemon, id: "hb")
            let start = ContinuousClock.now
            let beat = try #require(try watcher.next(timeout: .seconds(20), where: Self.isEvent("heartbeat")), "\(watcher.seen)")
            #expect(ContinuousClock.now - start < .seconds(20), "at half the idle timeout, not at the 30 s cap")
            let at = try #require(Self.date(beat["at"]), "heartbeat at is ISO 8601: \(beat)")
            #expect(abs(at.timeIntervalSinceNow) < 60)

            // 25 s, more than twice the idle timeout: heartbeats keep coming, the stream stays open
            // (drain throws if the daemon closes it).
            let later = try watcher.drain(for: .seconds(25))
            let beats = later.filter(Self.isEvent("heartbeat")).count
            #expect(beats >= 3 && beats <= 7, "about one heartbeat every 5 s: \(later)")

            // Meanwhile the quiet ordinary connection was closed by the idle timeout.
            #expect(quiet.linesUntilClosed(timeout: .seconds(10)) != nil, "an idle non-watch connection closes after 10 s")
            #expect(try daemon.connect().response("ping").isOK)

            // Closing the watcher releases its database connection.
            #expect(try watchConnections(db) == 1)
            watcher.client.close()
            #expect(try waitForWatchConnections(db, 0, timeout: .seconds(30)) == 0)
        }
    }

    /// A streaming watch does not hold up anybody else, and closing watchers leaves the
    /// daemon answering and streaming to new watchers.
    @Test func otherClientsAreAnsweredWhileWatchesStreamAndAfterTheyClose() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "road")
            var watchers = try (0..<3).map { try Watcher(daemon, id: "s\($0)") }
            // Held up, they would wait while the watches stream (until they close, after these):
            // 20 s tells that from a loaded machine.
            let other = try daemon.connect(timeout: .seconds(20))
            #expect(try other.response("ping", timeout: .seconds(20)).isOK)
            #expect(try other.response("status", timeout: .seconds(20)).isOK)
            #expect(try other.response("alert.list", timeout: .seconds(20)).isOK)
            // An event reaches every watcher.
            let id = try insertAlert(db, team: "road", account: "acme")
            for watcher in watchers {
                #expect(try watcher.next { $0["id"]?.intValue == id } != nil, "\(watcher.seen)")
            }
            for watcher in watchers { watcher.client.close() }
            watchers.removeAll()
            #expect(try waitForWatchConnections(db, 0, timeout: .seconds(30)) == 0, "closed watches release their connections")
            #expect(daemon.isRunning)
            #expect(try other.response("status", timeout: .seconds(20)).isOK)
            #expect(try daemon.connect().response("ping").isOK)
            let fresh = try Watcher(daemon, id: "fresh", topics: "alerts")
            _ = try client.result("alert.ack", ["id": .int(id)])
            #expect(try fresh.next { $0["id"]?.intValue == id && $0["status"] == "acknowledged" } != nil, "\(fresh.seen)")
        }
    }

    /// Streams have a limit of their own (max_streams) and leave max_connections to
    /// requests: with max_connections=1 (5 for root, an admin) and max_streams=3, three
    /// watchers and five request connections are served, a sixth request connection and a
    /// fourth watch are refused, and a closed watcher makes room.
    @Test func streamsHaveTheirOwnLimitApartFromRequestConnections() throws {
        try withDaemon(["CONVEYOR_MAX_CONNECTIONS": "1", "CONVEYOR_MAX_STREAMS": "3"]) { daemon, db in
            var watchers = try (0..<3).map { try Watcher(daemon, id: "s\($0)") }
            let clients = try (0..<(1 + Limits.adminReservedConnections)).map { _ in try daemon.connect() }
            for client in clients { #expect(try client.response("ping").isOK) }
            let refused = try AdminClient(path: daemon.socketPath, readGreeting: false)
            #expect(try Response.parse(line: try #require(try refused.readLine())).errorCode == .tooManyConnections)

            let fourth = try clients[0].response(Request(id: "s3", cmd: "watch").encodedLine())
            #expect(fourth.errorCode == .tooManyConnections, "\(fourth.encodedLine())")
            #expect(try clients[0].response("ping").isOK, "a refused watch leaves a usable connection")

            clients.last?.close()  // room for the next watcher's connection while it asks
            watchers.removeFirst().client.close()
            let deadline = ContinuousClock.now + .seconds(30)
            var admitted: Watcher?
            while admitted == nil, ContinuousClock.now < deadline {
                admitted = try? Watcher(daemon, id: "again")
                if admitted == nil { usleep(100_000) }
            }
            #expect(admitted != nil, "a closed watcher makes room for another")
            #expect(try watchConnections(db) == 1)
        }
    }

    /// All watches share one PostgreSQL connection (application_name conveyord-watch),
    /// which every one of 20 watchers is served from; once they close it goes, with the
    /// default configuration, within 15 s: woken by the last watcher leaving, not at the
    /// next heartbeat, 30 s after the hub began listening.
    @Test func watchersShareOneDatabaseConnectionReleasedWhenTheyClose() throws {
        try withDaemon { daemon, db in
            #expect(try watchConnections(db) == 0, "baseline")
            var watchers = try (0..<20).map { try Watcher(daemon, id: "c\($0)") }
            #expect(try watchConnections(db) == 1, "one connection for every watch")
            let client = try daemon.connect()
            try addTeam(client, "road")
            let id = try insertAlert(db, team: "road", account: "acme")
            for watcher in watchers {
                #expect(try watcher.next { $0["id"]?.intValue == id } != nil, "\(watcher.seen)")
            }
            let topical = try Watcher(daemon, id: "jobs-only", topics: "jobs")
            let other = try insertAlert(db, team: "road", account: "beta")
            #expect(try watchers[0].next { $0["id"]?.intValue == other } != nil)
            #expect(try topical.next(timeout: .seconds(1)) { $0["type"] == "alert" } == nil, "a jobs watcher gets no alerts: \(topical.seen)")
            topical.client.close()
            for watcher in watchers { watcher.client.close() }
            watchers.removeAll()
            let remaining = try waitForWatchConnections(db, 0, timeout: .seconds(15))
            #expect(remaining == 0, "\(remaining) watch connections still open 15 s after their clients closed")
            #expect(daemon.isRunning)
            #expect(try daemon.connect().response("status").isOK)
            // Lingering watches would hold up SIGTERM (see sigtermEndsOpenWatchesAndTheDaemonExits).
            if remaining != 0 { daemon.kill9() }
        }
    }

    /// SIGTERM drains and exits 0 even while a client keeps a watch open: the stream ends
    /// (the watcher sees the connection close) instead of holding the shutdown forever, or
    /// until the hub's next heartbeat, 30 s after it began listening: within 15 s.
    @Test func sigtermEndsOpenWatchesAndTheDaemonExits() throws {
        try withDaemon { daemon, db in
            let watcher = try Watcher(daemon, id: "term")
            #expect(try watchConnections(db) == 1)
            daemon.signal(SIGTERM)
            let status = try? daemon.waitForExit(timeout: .seconds(15))
            #expect(status == 0, "conveyord exits 0 within 15 s of SIGTERM with a watch open (got \(status.map(String.init) ?? "still running"))")
            #expect(watcher.client.linesUntilClosed(timeout: .seconds(1)) != nil, "the watch connection is closed")
            if status == nil { daemon.kill9() }  // rather than stop()'s second 10 s wait
        }
    }

    // MARK: - conveyorctl watch

    /// `conveyorctl --json watch` prints each event as one JSON object per line (no envelope,
    /// no acknowledgement) as it arrives, until it is stopped.
    @Test func conveyorctlWatchPrintsEventsAsJSONLines() throws {
        try withDaemon(["CONVEYOR_IDLE_TIMEOUT": "10"]) { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail")
            let directory = try TemporaryDirectory.make("cvy-watch")
            defer { TemporaryDirectory.remove(directory) }
            let out = directory + "/stdout", err = directory + "/stderr"
            let pid = try Spawn.start([try Binaries.conveyorctl(), "--socket", daemon.socketPath, "--json", "watch"], stdout: out, stderr: err)
            var reaped = false
            defer {
                if !reaped {
                    kill(pid, SIGKILL)
                    _ = Spawn.wait(pid, timeout: .seconds(5))
                }
            }
            let lines = { (try? String(contentsOfFile: out, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? [] }
            func waitForLine(_ timeout: Duration, _ predicate: (String) -> Bool) -> Bool {
                let deadline = ContinuousClock.now + timeout
                while ContinuousClock.now < deadline {
                    if lines().contains(where: predicate) { return true }
                    usleep(50_000)
                }
                return false
            }
            // A heartbeat (every 5 s here, with 5 s to spare before the idle timeout) shows the
            // stream is up; then an alert is opened. The waits only guard against a hang.
            #expect(waitForLine(.seconds(30)) { $0.contains("heartbeat") }, "a heartbeat: \(lines())")
            let id = try insertAlert(db, team: "rail", account: "acme")
            #expect(waitForLine(.seconds(30)) { $0.contains("\"alert\"") }, "the alert event: \(lines())")
            #expect(Spawn.poll(pid) == nil, "conveyorctl watch keeps running")
            kill(pid, SIGTERM)
            #expect(Spawn.wait(pid, timeout: .seconds(30)) != nil)
            reaped = true

            let printed = lines()
            #expect(!printed.isEmpty)
            for line in printed {
                let event = try? JSONValue(parsing: line)
                #expect(event?["type"]?.stringValue != nil, "each line is one event object: \(line)")
                #expect(event?["event"] == nil && event?["ok"] == nil, "no envelope or acknowledgement: \(line)")
            }
            let alert = printed.compactMap { try? JSONValue(parsing: $0) }.first { $0["type"] == "alert" }
            #expect(alert?["id"]?.intValue == id)
            #expect(alert?["status"] == "open")
            #expect(alert?["account"] == "acme")
            #expect((try? String(contentsOfFile: err, encoding: .utf8)) ?? "" == "")
        }
    }

    // MARK: - alert.list

    @Test func alertListFiltersByTeamAndStatus() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail")
            try addTeam(client, "sea")
            let open = try insertAlert(db, team: "rail", account: "a1", status: "open")
            let acknowledged = try insertAlert(db, team: "rail", account: "a2", status: "acknowledged")
            let snoozed = try insertAlert(db, team: "rail", account: "a3", status: "snoozed")
            let resolved = try insertAlert(db, team: "rail", account: "a4", status: "resolved")
            let elsewhere = try insertAlert(db, team: "sea", account: "b1", kind: "no_backup", status: "open")

            func ids(_ args: [String: JSONValue]) throws -> Set<Int64> {
                let alerts = try #require(try client.result("alert.list", args)["alerts"]?.arrayValue, "alert.list \(args)")
                return Set(alerts.compactMap { $0["id"]?.intValue })
            }
            #expect(try ids([:]) == [open, acknowledged, snoozed, elsewhere], "all teams, all but resolved")
            #expect(try ids(["team": "rail"]) == [open, acknowledged, snoozed])
            #expect(try ids(["team": "sea"]) == [elsewhere])
            #expect(try ids(["status": "resolved"]) == [resolved])
            #expect(try ids(["team": "rail", "status": "open"]) == [open])
            #expect(try ids(["team": "rail", "status": "acknowledged"]) == [acknowledged])
            #expect(try ids(["team": "rail", "status": "snoozed"]) == [snoozed])
            #expect(try ids(["team": "sea", "status": "resolved"]) == [])

            let alert = try #require(try client.result("alert.list", ["team": "sea"])["alerts"]?.arrayValue?.first)
            #expect(alert["team"] == "sea")
            #expect(alert["account"] == "b1")
            #expect(alert["kind"] == "no_backup")
            #expect(alert["severity"] == "high")
            #expect(alert["status"] == "open")
            #expect(Self.date(alert["first_seen_at"]) != nil && Self.date(alert["last_seen_at"]) != nil, "\(alert)")
            #expect(alert["details"] != nil)

            // The words form works too.
            #expect(try client.response("alert.list team=rail status=resolved").result?["alerts"]?.arrayValue?.count == 1)
        }
    }

    @Test func alertListRejectsABadStatus() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail")
            try insertAlert(db, team: "rail", account: "a1")
            for status in ["bogus", "OPEN", "open ", "", "resolved;drop", String(repeating: "s", count: 10_240)] {
                let response = try client.request("alert.list", ["status": .string(status)], id: "l")
                if status.isEmpty, response.isOK { continue }  // an empty value may mean "no filter"
                expectError(response, .invalidArgument, "status=\(status.prefix(20))")
                #expect(response.encodedLine().utf8.count < 4_096, "the error does not echo a 10 KB value")
                #expect(try client.response("ping").isOK)
            }
            expectError(try client.request("alert.list", ["status": 7]), .invalidArgument)
            expectError(try client.request("alert.list", ["status": ["open"]]), .invalidArgument)
            #expect(try client.result("alert.list")["alerts"]?.arrayValue?.count == 1)
        }
    }

    // MARK: - alert.ack / alert.snooze

    /// A viewer (anyone who can reach the socket) may list alerts but not change them; the
    /// refused attempts are audited and change nothing.
    @Test func viewersMayListButNotAcknowledgeOrSnooze() throws {
        try OtherUser.requireNobody()
        let directory = try TemporaryDirectory.make("cvy-alrt")
        defer { TemporaryDirectory.remove(directory) }
        #expect(chmod(directory, 0o755) == 0)
        let conninfo = try TestPostgres.makeDatabase()
        let daemon = try DaemonProcess(
            database: conninfo, environment: Self.quiet.merging(["CONVEYOR_SOCKET_GROUP": "nogroup"]) { _, new in new },
            socketPath: directory + "/admin.sock")
        defer { daemon.stop() }
        let db = try TestPostgres.connect(conninfo)
        try addTeam(try daemon.connect(), "rail")
        let id = try insertAlert(db, team: "rail", account: "a1")

        let list = try daemon.ctl(["--json", "alert.list"], asUser: OtherUser.nobody)
        #expect(list.status == 0, "\(list)")
        #expect((try? JSONValue(parsing: list.stdout))?["alerts"]?.arrayValue?.first?["id"]?.intValue == id, "\(list)")
        let ack = try daemon.ctl(["alert.ack", "id=\(id)"], asUser: OtherUser.nobody)
        #expect(ack.status == 16 && ack.stderr.contains("permission_denied"), "\(ack)")
        let snooze = try daemon.ctl(["alert.snooze", "id=\(id)", "until=\(Self.iso(Date().addingTimeInterval(86_400)))"], asUser: OtherUser.nobody)
        #expect(snooze.status == 16 && snooze.stderr.contains("permission_denied"), "\(snooze)")
        #expect(try alertRow(db, id).status == "open")
        let audit = try db.query(
            "select command, role, ok, error_code from conveyor.admin_audit where command like 'alert.%' order by id")
        #expect(try audit.map { "\(try $0["command"].string()) \(try $0["role"].string()) \(try $0["ok"].bool()) \(try $0["error_code"].optionalString() ?? "-")" } == [
            "alert.ack viewer false permission_denied", "alert.snooze viewer false permission_denied",
        ])
    }

    @Test func ackAndSnoozeMoveAlertsThroughTheirStates() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail")
            let first = try insertAlert(db, team: "rail", account: "a1")
            let second = try insertAlert(db, team: "rail", account: "a2")

            // open → acknowledged
            let acked = try #require(try client.result("alert.ack", ["id": .int(first)])["alert"])
            #expect(acked["id"]?.intValue == first)
            #expect(acked["status"] == "acknowledged")
            #expect(acked["account"] == "a1")
            #expect(try alertRow(db, first).status == "acknowledged")
            // Acknowledged alerts stay listed (they are not resolved).
            #expect(try client.result("alert.list", ["status": "acknowledged"])["alerts"]?.arrayValue?.map { $0["id"]?.intValue } == [first])

            // acknowledged → acknowledged again: conflict, nothing changes
            let again = try client.request("alert.ack", ["id": .int(first)])
            expectError(again, .conflict, "ack twice")
            if case .error(_, let error) = again { #expect(error.message.contains("acknowledged"), "\(error.message)") }

            // open → snoozed, with snoozed_until
            let until = Date().addingTimeInterval(3 * 86_400).rounded()
            let snoozed = try #require(try client.result("alert.snooze", ["id": .int(second), "until": .string(Self.iso(until))])["alert"])
            #expect(snoozed["status"] == "snoozed")
            #expect(Self.date(snoozed["snoozed_until"]) == until, "\(snoozed)")
            #expect(try alertRow(db, second).status == "snoozed")
            #expect(try alertRow(db, second).snoozedUntil == until)

            // snoozed → snoozed later (words form, an offset time)
            let later = until.addingTimeInterval(86_400)
            let offset = later.formatted(Date.ISO8601FormatStyle(timeZoneSeparator: .colon, timeZone: TimeZone(secondsFromGMT: 2 * 3600)!))
            let resnoozed = try client.response("alert.snooze id=\(second) until=\(offset)")
            #expect(resnoozed.result?["alert"]?["status"] == "snoozed", "\(resnoozed.encodedLine())")
            #expect(try alertRow(db, second).snoozedUntil == later, "offset \(offset)")

            // snoozed → acknowledged
            let ackSnoozed = try #require(try client.result("alert.ack", ["id": .int(second)])["alert"])
            #expect(ackSnoozed["status"] == "acknowledged")

            // acknowledged → snoozed
            let snoozeAcked = try #require(try client.result("alert.snooze", ["id": .int(first), "until": .string(Self.iso(until))])["alert"])
            #expect(snoozeAcked["status"] == "snoozed")
        }
    }

    @Test func resolvedAlertsCannotBeAcknowledgedOrSnoozed() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail")
            let resolved = try insertAlert(db, team: "rail", account: "a1", status: "resolved")
            let ack = try client.request("alert.ack", ["id": .int(resolved)])
            expectError(ack, .conflict)
            if case .error(_, let error) = ack { #expect(error.message.contains("resolved"), "\(error.message)") }
            let snooze = try client.request("alert.snooze", ["id": .int(resolved), "until": .string(Self.iso(Date().addingTimeInterval(86_400)))])
            expectError(snooze, .conflict)
            let row = try alertRow(db, resolved)
            #expect(row.status == "resolved")
            #expect(row.snoozedUntil == nil)
        }
    }

    @Test func unknownAndGarbageAlertIDs() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail")
            let open = try insertAlert(db, team: "rail", account: "a1")
            let future = Self.iso(Date().addingTimeInterval(86_400))

            expectError(try client.request("alert.ack", ["id": 987_654]), .notFound, "ack unknown")
            expectError(try client.request("alert.snooze", ["id": 987_654, "until": .string(future)]), .notFound, "snooze unknown")
            expectError(try client.response("alert.ack id=987654"), .notFound, "words form")

            let garbage: [JSONValue] = ["abc", -1, "-1", 0, "0", 1.5, "1.5", "", " ", "1; drop table conveyor.alerts", true, .null, ["1"],
                                        "99999999999999999999999", .string(String(repeating: "9", count: 10_000))]
            for id in garbage {
                expectError(try client.request("alert.ack", ["id": id]), .invalidArgument, "ack id=\(id.compactString.prefix(30))")
                expectError(try client.request("alert.snooze", ["id": id, "until": .string(future)]), .invalidArgument,
                            "snooze id=\(id.compactString.prefix(30))")
            }
            expectError(try client.response("alert.ack id=abc"), .invalidArgument)
            expectError(try client.response("alert.ack id=-1"), .invalidArgument)
            expectError(try client.response("alert.ack"), .invalidArgument, "no id")
            expectError(try client.response("alert.snooze until=\(future)"), .invalidArgument, "no id")
            #expect(try alertRow(db, open).status == "open", "nothing changed")
            #expect(try client.response("ping").isOK)
        }
    }

    @Test func snoozeNeedsAFutureISO8601Time() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail")
            let id = try insertAlert(db, team: "rail", account: "a1")
            let bad = [
                "yesterday", "tomorrow", "now", Self.iso(Date().addingTimeInterval(-60)), "2001-01-01T00:00:00Z",
                "2030-13-45T99:00:00Z", "not a time", "", "1767225600", String(repeating: "2", count: 10_000),
            ]
            for until in bad {
                expectError(try client.request("alert.snooze", ["id": .int(id), "until": .string(until)]), .invalidArgument, "until=\(until.prefix(30))")
            }
            expectError(try client.response("alert.snooze id=\(id) until=yesterday"), .invalidArgument)
            expectError(try client.response("alert.snooze id=\(id)"), .invalidArgument, "no until")
            let row = try alertRow(db, id)
            #expect(row.status == "open")
            #expect(row.snoozedUntil == nil)
            // A future time is accepted.
            #expect(try client.request("alert.snooze", ["id": .int(id), "until": .string(Self.iso(Date().addingTimeInterval(3_600)))]).isOK)
        }
    }

    /// alert.ack and alert.snooze change state: each attempt is audited with who, what and
    /// the outcome; alert.list is a read and is not.
    @Test func ackAndSnoozeAreAudited() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail")
            let id = try insertAlert(db, team: "rail", account: "a1")
            let baseline = try db.query("select count(*) as n from conveyor.admin_audit")[0]["n"].int64()
            #expect(try client.result("alert.list").objectValue != nil)
            _ = try client.result("alert.ack", ["id": .int(id)])
            expectError(try client.request("alert.ack", ["id": .int(id)]), .conflict)
            _ = try client.result("alert.snooze", ["id": .int(id), "until": .string(Self.iso(Date().addingTimeInterval(86_400)))])
            expectError(try client.request("alert.snooze", ["id": .int(id), "until": "yesterday"]), .invalidArgument)

            let rows = try db.query(
                """
                select uid, pid, role, command, args->>'id' as alert_id, args ? 'until' as has_until, ok, error_code
                from conveyor.admin_audit where id > 0 order by id offset $1
                """, [baseline])
            let summary = try rows.map { row in
                "\(try row["command"].string()) \(try row["alert_id"].optionalString() ?? "-") \(try row["ok"].bool()) \(try row["error_code"].optionalString() ?? "-")"
            }
            #expect(summary == [
                "alert.ack \(id) true -", "alert.ack \(id) false conflict",
                "alert.snooze \(id) true -", "alert.snooze \(id) false invalid_argument",
            ])
            for row in rows {
                #expect(try row["uid"].int64() == Int64(getuid()))
                #expect(try row["pid"].int64() == Int64(getpid()))
                #expect(try row["role"].string() == "admin")
            }
            if rows.count == 4 {
                #expect(try rows[2]["has_until"].bool())
            }
        }
    }

    /// Acknowledging and snoozing are alert changes: watchers see them.
    @Test func watchersSeeAcknowledgementsAndSnoozes() throws {
        try withDaemon { daemon, db in
            let client = try daemon.connect()
            try addTeam(client, "rail")
            let id = try insertAlert(db, team: "rail", account: "a1")
            let watcher = try Watcher(daemon, id: "w", topics: "alerts")
            _ = try client.result("alert.ack", ["id": .int(id)])
            let acked = try #require(try watcher.next { $0["id"]?.intValue == id && $0["status"] == "acknowledged" }, "\(watcher.seen)")
            #expect(acked["type"] == "alert")
            #expect(acked["team"] == "rail")
            let until = Date().addingTimeInterval(86_400).rounded()
            _ = try client.result("alert.snooze", ["id": .int(id), "until": .string(Self.iso(until))])
            let snoozed = try #require(try watcher.next { $0["id"]?.intValue == id && $0["status"] == "snoozed" }, "\(watcher.seen)")
            #expect(Self.date(snoozed["snoozed_until"]) == until)
            // A refused change is no event.
            _ = try client.request("alert.snooze", ["id": .int(id), "until": "yesterday"])
            #expect(try watcher.drain(for: .milliseconds(500)).isEmpty)
        }
    }
}

private extension Date {
    /// Whole seconds (what ISO 8601 without fractions carries).
    func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
