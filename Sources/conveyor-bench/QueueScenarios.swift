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
        let driver = SteadyRate<Int64>(rate: options.rate, seconds: options.seconds, listener: listener)
        let result = try driver.run(
            send: { _ in try JobStore.enqueue(enqueuer, kind: "probe") },
            completed: { _, notifications in notifications.compactMap { Int64($0.payload) } }
        )
        return ScenarioResult(scenario: "latency", figures: [
            ("rate_per_second", options.rate), ("jobs", Double(result.count)),
            ("p50_ms", result.p50), ("p99_ms", result.p99), ("max_ms", result.max),
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
