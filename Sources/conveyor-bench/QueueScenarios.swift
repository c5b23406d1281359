import ConveyorPostgres
import ConveyorStore
import Foundation

/// The work-queue scenarios: noop, noop-raw, latency, idle.
struct QueueScenarios {
    let conninfo: String
    let options: BenchOptions

    private func connect() throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo, applicationName: "conveyor-bench")
    }

    /// Empties the queue so each scenario starts from the same state.
    private func reset(_ connection: PostgresConnection) throws {
        try connection.query(BenchQueries.resetQueue)
        try connection.execute(BenchQueries.analyzeJobs)
    }

    private func enqueueNoops(_ connection: PostgresConnection) throws {
        try connection.query(BenchQueries.enqueueNoops, [options.jobs])
    }

    /// Whether any job is still to run (an index probe: polling must not load the server).
    static func anyDue(_ connection: PostgresConnection) throws -> Bool {
        try connection.query(BenchQueries.anyDue)[0]["due"].bool()
    }

    /// The daemon's workers burn down `jobs` no-op jobs enqueued in one commit.
    func noop() throws -> ScenarioResult {
        let connection = try connect()
        try reset(connection)
        let daemon = try BenchDaemon(conninfo: conninfo, workers: options.workers, batchSize: options.batchSize)
        defer { daemon.stop() }
        var peakRSS = daemon.residentBytes
        try enqueueNoops(connection)
        let started = Date()
        while try Self.anyDue(connection) {
            peakRSS = max(peakRSS, daemon.residentBytes)
            usleep(20_000)
        }
        let seconds = Date().timeIntervalSince(started)
        let done = try connection.query(BenchQueries.succeededJobs)[0]["n"].int()
        guard done == options.jobs else { throw BenchError("noop: \(done) of \(options.jobs) jobs succeeded") }
        return ScenarioResult(scenario: "noop", figures: [
            ("jobs", Double(options.jobs)), ("seconds", seconds), ("jobs_per_second", Double(options.jobs) / seconds),
            ("workers", Double(options.workers)), ("peak_rss_mib", Double(peakRSS) / 1_048_576),
        ])
    }

    /// The same row changes by hand-written set-based SQL on one connection.
    func noopRaw() throws -> ScenarioResult {
        let connection = try connect()
        try reset(connection)
        try enqueueNoops(connection)
        let started = Date()
        while true {
            let changed = try connection.query(BenchQueries.rawNoopBatch, [options.batchSize]).affectedRows
            if changed == 0 { break }
        }
        let seconds = Date().timeIntervalSince(started)
        return ScenarioResult(scenario: "noop-raw", figures: [
            ("jobs", Double(options.jobs)), ("seconds", seconds), ("jobs_per_second", Double(options.jobs) / seconds),
        ])
    }

    /// Enqueues probe jobs at a steady rate; each probe notifies on completion.
    func latency() throws -> ScenarioResult {
        let enqueuer = try connect()
        let listener = try connect()
        try reset(enqueuer)
        try listener.listen("conveyor_probe")
        let daemon = try BenchDaemon(conninfo: conninfo, workers: options.workers, batchSize: options.batchSize)
        defer { daemon.stop() }
        let result = try probes(enqueuer, listener)
        return ScenarioResult(scenario: "latency", figures: [
            ("rate_per_second", options.rate), ("jobs", Double(result.count)),
            ("p50_ms", result.p50), ("p99_ms", result.p99), ("max_ms", result.max),
        ])
    }

    /// Probe jobs at --rate for --seconds, enqueue commit to completion notification.
    private func probes(_ enqueuer: PostgresConnection, _ listener: PostgresConnection) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
        try SteadyRate<Int64>(rate: options.rate, seconds: options.seconds, listener: listener).run(
            send: { _ in try JobStore.enqueue(enqueuer, kind: "probe") },
            completed: { _, notifications in notifications.compactMap { Int64($0.payload) } }
        )
    }

    /// Probe jobs at --rate while another session's transaction holds a
    /// snapshot (pins the xmin horizon) for --pin-seconds, in windows of
    /// --seconds: three before, the pin, then two minutes after (autovacuum's
    /// turn). Succeeded jobs are pruned a second after they finish, so the
    /// table holds only the rows vacuum cannot reclaim yet.
    func pinned() throws -> ScenarioResult {
        let enqueuer = try connect(), listener = try connect(), observer = try connect(), pin = try connect()
        try reset(enqueuer)
        try listener.listen("conveyor_probe")
        let daemon = try BenchDaemon(
            conninfo: conninfo, workers: options.workers, batchSize: options.batchSize, environment: ["CONVEYOR_JOB_RETENTION": "1"])
        defer { daemon.stop() }
        let started = Date()
        var figures: [(String, Double)] = [("rate_per_second", options.rate), ("pin_seconds", options.pinSeconds)]
        /// One window: its p99 and jobs done per second (below --rate when the daemon falls behind).
        func window(_ phase: String) throws -> (p99: Double, perSecond: Double) {
            let began = Date()
            let result = try probes(enqueuer, listener)
            let perSecond = Double(result.count) / Date().timeIntervalSince(began)
            let table = try observer.query(BenchQueries.jobsTableFigures)[0]
            let horizon = try DatabaseFigures.read(observer).horizon
            let at = "\(phase)_\(Int(Date().timeIntervalSince(started).rounded()))s"
            figures += [
                ("\(at)_p99_ms", result.p99), ("\(at)_jobs_per_second", perSecond),
                ("\(at)_table_mib", try table["bytes"].double() / 1_048_576), ("\(at)_dead_rows", try table["dead"].double()),
                ("\(at)_horizon_seconds", horizon.seconds ?? 0),
            ]
            return (result.p99, perSecond)
        }
        let before = try (0..<3).map { _ in try window("before") }
        try pin.execute("begin isolation level repeatable read")
        _ = try pin.query(BenchQueries.succeededJobs)
        let pinnedUntil = Date().addingTimeInterval(options.pinSeconds)
        var during: [(p99: Double, perSecond: Double)] = []
        repeat { during.append(try window("pinned")) } while Date() < pinnedUntil
        try pin.execute("commit")
        for _ in 0..<max(1, Int((120 / options.seconds).rounded(.up))) { _ = try window("after") }
        let baseline = (p99: before.map(\.p99).max()!, perSecond: before.map(\.perSecond).min()!)
        return ScenarioResult(scenario: "pinned", figures: figures + [
            ("pinned_worst_p99_to_before", during.map(\.p99).max()! / baseline.p99),
            ("pinned_slowest_jobs_per_second_to_before", during.map(\.perSecond).min()! / baseline.perSecond),
        ])
    }

    /// Transactions per second an idle daemon runs (pg_stat_database). Each
    /// idle worker wakes once per poll interval for a claim and a look at
    /// the schedule: two transactions, four statements.
    func idle() throws -> ScenarioResult {
        let connection = try connect()
        try reset(connection)
        let daemon = try BenchDaemon(conninfo: conninfo, workers: options.workers, batchSize: options.batchSize)
        defer { daemon.stop() }
        // Start-up work is not idle work, and backends flush their statistics
        // at most every second (idle ones within 10 s): let both settle.
        sleep(11)
        func transactions() throws -> Int64 {
            try connection.query(BenchQueries.flushStatistics)
            return try connection.query(BenchQueries.transactions)[0]["n"].int64()
        }
        let before = try transactions()
        usleep(UInt32(options.idleSeconds * 1e6))
        let after = try transactions()
        // Our own two measuring rounds (flush + read, twice) are excluded.
        let daemonTransactions = Double(after - before - 2)
        return ScenarioResult(scenario: "idle", figures: [
            ("seconds", options.idleSeconds), ("transactions_per_second", daemonTransactions / options.idleSeconds),
            ("workers", Double(options.workers)),
        ])
    }
}
