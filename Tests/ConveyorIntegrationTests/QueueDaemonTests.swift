import ConveyorPostgres
import ConveyorProtocol
import ConveyorStore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The work queue through real `conveyord` processes: crashes, several
/// daemons, a database restart, graceful shutdown, poison jobs and wake-up
/// latency. Probe jobs are the effects: each writes one `conveyor.probes` row
/// in the transaction that completes it, so "exactly once" is a query
/// (`QueueTest.ProbeTally`).
///
/// Serialized: each test burns thousands of jobs on a 2-core machine, and
/// timing matters (kill points, latency). The database-restart test uses a
/// PostgreSQL server of its own, so the tests beside it are not disturbed.
/// Every wait inside is bounded (each test takes seconds, well under a
/// minute); the time limits only guard against a hang, with room for the
/// shared server's start-up when the whole test target runs at once.
@Suite(.serialized) struct QueueDaemonTests {
    /// Large enough, with `burnEnvironment`'s small batches, that the burn-down
    /// lasts seconds (one daemon does some 12,000 jobs a second here, unloaded):
    /// a kill, a SIGTERM or a restart sent once a fifth is done still lands in
    /// the middle when the test gets no core for seconds while the daemon works
    /// on (with 20,000 in batches of 100, four fifths were done 0.6 s after one
    /// fifth), and each of three daemons gets its share.
    static let burn = 100_000

    /// Smaller batches than the default: progress comes in small steps, so a
    /// kill or a restart lands in the middle of the burn-down.
    static let burnEnvironment = ["CONVEYOR_BATCH_SIZE": "20", "CONVEYOR_LOG_LEVEL": "notice"]

    /// Waits until `fraction` of the burn is done; returns the probe rows seen then.
    static func waitForProgress(_ watcher: QueueWatcher, atLeast fraction: Double, timeout: Double = 60) throws -> Int {
        let target = Int(Double(burn) * fraction)
        var rows = 0
        let reached = try watcher.waitUntil(timeout: timeout, interval: 0.005) { connection in
            rows = try QueueTest.probeRows(connection)
            return rows >= target
        }
        guard reached else { throw TestSetupError("the daemon did not reach \(target) probes within \(timeout) s (at \(rows))") }
        return rows
    }

    /// Waits until no job is pending; throws with the tally if it takes longer than `timeout`.
    static func waitUntilDrained(_ watcher: QueueWatcher, timeout: Double = 120) throws {
        let drained = try watcher.waitUntil(timeout: timeout, interval: 0.05) { connection in
            try QueueTest.int(connection, "select count(*)::int from conveyor.jobs where state in ('available', 'retryable')") == 0
        }
        guard drained else { throw TestSetupError("jobs still pending after \(timeout) s: \(try watcher.tally())") }
    }

    /// The sum of a Prometheus counter in the daemon's `metrics` text.
    static func counter(_ daemon: DaemonProcess, _ name: String) throws -> Double {
        let values = samples(try daemon.connect().result("metrics")["text"]?.stringValue ?? "", name).values
        guard !values.isEmpty else { throw TestSetupError("no \(name) in the metrics of conveyord \(daemon.pid)") }
        return values.reduce(0, +)
    }

    // MARK: crashes

    @Test(.timeLimit(.minutes(4)))
    func killNineDuringTheBurnDownLosesAndRepeatsNothing() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let watcher = QueueWatcher(conninfo)
        let first = try DaemonProcess(database: conninfo, environment: Self.burnEnvironment)
        defer { first.stop() }
        try watcher.with { try QueueTest.insertProbeJobs($0, count: Self.burn) }

        let seen = try Self.waitForProgress(watcher, atLeast: 0.2)
        first.kill9()
        #expect(first.pollExit() == 128 + SIGKILL)

        // Whatever committed is complete; whatever was in flight left no trace.
        let afterKill = try watcher.tally()
        #expect(afterKill.pending > 0, "the kill must land before the end: \(afterKill)")
        #expect(afterKill.probeRows >= seen)
        #expect(afterKill.probeRows <= Self.burn * 8 / 10, "killed late (wanted roughly 20–60%): \(afterKill)")
        #expect(afterKill.probeRows == afterKill.succeeded, "\(afterKill)")
        #expect(afterKill.duplicated == 0 && afterKill.orphaned == 0 && afterKill.missing == 0 && afterKill.running == 0, "\(afterKill)")

        let second = try DaemonProcess(database: conninfo, environment: Self.burnEnvironment)
        defer { second.stop() }
        try Self.waitUntilDrained(watcher)
        let tally = try watcher.tally()
        #expect(tally.isExactlyOnce(expected: Self.burn), "\(tally)")
        #expect(try watcher.with {
            try $0.query("select job_id from conveyor.probes group by job_id having count(*) <> 1").count
        } == 0)
        #expect(second.isRunning)
    }

    @Test(.timeLimit(.minutes(4)))
    func threeDaemonsOnOneDatabaseRunEachJobOnce() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let watcher = QueueWatcher(conninfo)
        var daemons: [DaemonProcess] = []
        defer { daemons.forEach { $0.stop() } }
        for _ in 0..<3 { daemons.append(try DaemonProcess(database: conninfo, environment: Self.burnEnvironment)) }
        try watcher.with { try QueueTest.insertProbeJobs($0, count: Self.burn) }

        try Self.waitUntilDrained(watcher)
        let tally = try watcher.tally()
        #expect(tally.isExactlyOnce(expected: Self.burn), "\(tally)")
        // Every daemon took part, and together they processed each job once.
        let processed = try daemons.map { try Self.counter($0, "conveyor_jobs_processed_total") }
        #expect(processed.allSatisfy { $0 > 0 }, "processed per daemon: \(processed)")
        #expect(processed.reduce(0, +) == Double(Self.burn), "processed per daemon: \(processed)")
        #expect(daemons.allSatisfy { $0.isRunning })
    }

    @Test(.timeLimit(.minutes(4)))
    func postgresRestartMidRunIsSurvived() throws {
        let server = try PrivatePostgres.start(name: "restart")
        defer { server.stop() }
        let conninfo = try server.makeDatabase()
        let watcher = QueueWatcher(conninfo)
        let daemon = try DaemonProcess(database: conninfo, environment: Self.burnEnvironment)
        defer { daemon.stop() }
        try watcher.with { try QueueTest.insertProbeJobs($0, count: Self.burn) }

        _ = try Self.waitForProgress(watcher, atLeast: 0.2)
        try server.restart()
        let afterRestart = try watcher.tally()
        #expect(afterRestart.pending > 0, "the restart must land before the end: \(afterRestart)")
        #expect(daemon.isRunning, "conveyord must survive a database restart; log:\n\(daemon.log.suffix(3000))")

        try Self.waitUntilDrained(watcher)
        let tally = try watcher.tally()
        #expect(tally.isExactlyOnce(expected: Self.burn), "\(tally)")
        #expect(daemon.isRunning)
        // Its own view: up, database reachable again, every worker connected.
        let status = try daemon.connect().result("status")
        #expect(status["database"]?["reachable"]?.boolValue == true, "\(status)")
        #expect(status["workers"]?["phases"]?.arrayValue?.allSatisfy { $0.stringValue == "connected" } == true, "\(status)")
    }

    // MARK: graceful shutdown

    /// The first daemon polls every 10 minutes (the burn needs no poll: the
    /// insert's NOTIFY wakes the workers and they claim while work is due), so
    /// its idle long lane is waiting for that poll when SIGTERM comes: an exit
    /// within `exitsWithin` was woken by the shutdown, not by the poll. The
    /// bound is wide on purpose: under the parallel suite the daemon can get
    /// no core for seconds.
    @Test(.timeLimit(.minutes(4)))
    func sigtermMidRunDrainsAndExitsZero() throws {
        let exitsWithin = Duration.seconds(30)
        let conninfo = try TestPostgres.makeDatabase()
        let watcher = QueueWatcher(conninfo)
        let first = try DaemonProcess(
            database: conninfo, environment: Self.burnEnvironment.merging(["CONVEYOR_POLL_INTERVAL": "600"]) { $1 })
        defer { first.stop() }
        try watcher.with { try QueueTest.insertProbeJobs($0, count: Self.burn) }

        _ = try Self.waitForProgress(watcher, atLeast: 0.2)
        let signalled = ContinuousClock.now
        first.signal(SIGTERM)
        let status = try first.waitForExit(timeout: exitsWithin + .seconds(10))
        let took = ContinuousClock.now - signalled
        #expect(status == 0, "exit status \(status); log:\n\(first.log.suffix(3000))")
        #expect(took < exitsWithin, "exited \(took) after SIGTERM: waited for the poll?")

        let afterStop = try watcher.tally()
        #expect(afterStop.running == 0)
        #expect(afterStop.pending > 0, "a draining daemon stops claiming: \(afterStop)")
        #expect(afterStop.probeRows == afterStop.succeeded, "\(afterStop)")
        #expect(afterStop.duplicated == 0 && afterStop.orphaned == 0 && afterStop.missing == 0, "\(afterStop)")
        // Its connections are gone (nothing left holding locks).
        #expect(try watcher.waitUntil(timeout: 30) { connection in
            try QueueTest.int(connection, """
                select count(*)::int from pg_stat_activity
                where application_name like 'conveyord%' and datname = current_database()
                """) == 0
        })

        let second = try DaemonProcess(database: conninfo, environment: Self.burnEnvironment)
        defer { second.stop() }
        try Self.waitUntilDrained(watcher)
        let tally = try watcher.tally()
        #expect(tally.isExactlyOnce(expected: Self.burn), "\(tally)")
    }

    // MARK: poison jobs and the operator's commands

    /// The daemon polls every 10 minutes, so the jobs (enqueued one by one,
    /// each with its NOTIFY) and the retried one are done within `wokenWithin`
    /// only if a notification woke a worker. The bound is wide on purpose (the
    /// daemon can get no core for seconds under the parallel suite) and stays
    /// below housekeeping's 30 s round.
    @Test(.timeLimit(.minutes(2)))
    func poisonJobDiesAndCanBeRetriedFromConveyorctl() throws {
        let wokenWithin = 20.0
        let conninfo = try TestPostgres.makeDatabase()
        let watcher = QueueWatcher(conninfo)
        let daemon = try DaemonProcess(database: conninfo, environment: ["CONVEYOR_POLL_INTERVAL": "600"])
        defer { daemon.stop() }
        var probes: [Int64] = []
        var poison: Int64 = 0
        try watcher.with { connection in
            for index in 0..<60 {
                if index == 30 {
                    poison = try JobStore.enqueue(connection, kind: "mystery", payload: #"{"from": "an integration"}"#)
                } else {
                    probes.append(try JobStore.enqueue(connection, kind: "probe"))
                }
            }
        }
        try Self.waitUntilDrained(watcher, timeout: wokenWithin)
        let tally = try watcher.tally()
        #expect(tally.isExactlyOnce(expected: probes.count), "\(tally)")
        let dead = try watcher.with { try QueueTest.job($0, poison) }
        #expect(dead.state == "dead")
        #expect(dead.attempts == 1)
        #expect(dead.lastError?.contains("mystery") == true, "last_error: \(dead.lastError ?? "nil")")

        // The operator sees it…
        let table = try daemon.ctl(["job.list", "state=dead"])
        #expect(table.status == 0, "\(table)")
        #expect(table.stdout.contains(String(poison)) && table.stdout.contains("mystery"), "\(table)")
        let listed = try daemon.ctl(["--json", "job.list", "state=dead"])
        #expect(listed.status == 0, "\(listed)")
        let jobs = try JSONValue(parsing: listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["jobs"]?.arrayValue ?? []
        #expect(jobs.map { $0["id"]?.intValue } == [poison])
        #expect(jobs.first?["kind"]?.stringValue == "mystery")
        #expect(jobs.first?["state"]?.stringValue == "dead")
        #expect(jobs.first?["last_error"]?.stringValue?.contains("mystery") == true)

        // …retries it: available now, and it runs (and dies) again without
        // waiting for the daemon's fallback poll, 10 minutes away.
        let retried = try daemon.ctl(["--json", "job.retry", "id=\(poison)"])
        #expect(retried.status == 0, "\(retried)")
        let job = try JSONValue(parsing: retried.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["job"]
        #expect(job?["id"]?.intValue == poison)
        #expect(job?["state"]?.stringValue == "available")
        let diedAgain = try watcher.waitUntil(timeout: wokenWithin) { connection in
            try QueueTest.job(connection, poison).attempts == 2
        }
        let rerun = try watcher.with { try QueueTest.job($0, poison) }
        #expect(diedAgain, "a retried job must be picked up at once, not at the next poll: \(rerun)")
        #expect(rerun.state == "dead")

        // Retrying a succeeded job or an unknown id is refused, with distinct exit codes.
        let conflict = try daemon.ctl(["job.retry", "id=\(probes[0])"])
        let missing = try daemon.ctl(["job.retry", "id=999999"])
        #expect(conflict.status != 0, "\(conflict)")
        #expect(missing.status != 0, "\(missing)")
        #expect(conflict.status != missing.status)
        #expect(try watcher.with { try QueueTest.job($0, probes[0]) }.state == "succeeded")
    }

    // MARK: latency

    /// The daemon polls every 10 minutes here, so anything that finishes
    /// within `wokenWithin` was woken, not polled. The bound is wide on
    /// purpose: under the parallel suite the daemon can get no core for
    /// seconds, and how fast a wake-up is is conveyor-bench's to measure.
    @Test(.timeLimit(.minutes(2)))
    func idleDaemonWakesOnNotifyNotOnPoll() throws {
        let wokenWithin = 20.0
        let conninfo = try TestPostgres.makeDatabase()
        let watcher = QueueWatcher(conninfo)
        let daemon = try DaemonProcess(database: conninfo, environment: ["CONVEYOR_POLL_INTERVAL": "600", "CONVEYOR_WORKERS": "2"])
        defer { daemon.stop() }
        // Let both workers and the long lane's connect, find nothing and settle into their long wait.
        let idle = try watcher.waitUntil(timeout: 30) { connection in
            try QueueTest.int(connection, """
                select count(*)::int from pg_stat_activity
                where application_name = 'conveyord-worker' and datname = current_database() and state = 'idle'
                """) == 3
        }
        #expect(idle, "all three workers should be connected and idle")
        usleep(500_000)

        let listener = try TestPostgres.connect(conninfo)
        try listener.listen("conveyor_probe")
        let enqueuer = try TestPostgres.connect(conninfo)
        /// When `job`'s probe notification arrives, if within `deadline`.
        func finished(_ job: Int64, by deadline: Date) throws -> Date? {
            while Date() < deadline {
                if try listener.waitForNotifications(timeout: 0.5).contains(where: { $0.payload == String(job) }) {
                    return Date()
                }
            }
            return nil
        }
        for _ in 0..<3 {
            let enqueued = Date()
            let id = try JobStore.enqueue(enqueuer, kind: "probe")
            let done = try finished(id, by: enqueued.addingTimeInterval(wokenWithin))
            #expect(done != nil, "probe \(id) waited for the poll: not done within \(wokenWithin) s")
            usleep(300_000)   // idle again
        }

        // A job scheduled 1.5 s ahead runs once due, not before, and without waiting for the poll.
        let dueAt = Date().addingTimeInterval(1.5)
        let scheduled = try JobStore.enqueue(enqueuer, kind: "probe", runAt: dueAt)
        let done = try finished(scheduled, by: dueAt.addingTimeInterval(wokenWithin))
        let finishedAt = try #require(done, "the scheduled probe waited for the poll: not done within \(wokenWithin) s of run_at")
        #expect(finishedAt >= dueAt, "ran \(dueAt.timeIntervalSince(finishedAt)) s early")
        // The server's view agrees: its probe row is from after run_at.
        let lag = try QueueTest.int(enqueuer, """
            select (extract(epoch from p.done_at - j.run_at) * 1000)::int
            from conveyor.probes as p join conveyor.jobs as j on j.id = p.job_id where j.id = $1
            """, [scheduled])
        #expect(lag >= 0 && Double(lag) < wokenWithin * 1000, "done \(lag) ms after run_at")
    }
}
