import ConveyorPostgres
import ConveyorStore
import Foundation

/// The handoff scenarios: handoff (the daemon), handoff-raw (hand-written
/// set-based SQL), handoff-latency (wins at a steady rate).
///
/// Data: 3 teams of `--managers` account managers (half with `customs`, capacity
/// enough for every win), one hunter each; `--jobs` won accounts spread over
/// the teams, a quarter needing `customs`, each with its handoff job, as
/// `conveyor.record_win` leaves them.
struct HandoffScenarios {
    let conninfo: String
    let options: BenchOptions
    /// Account managers per team.
    let managers: Int
    static let teams = ["china-rail", "sea-freight", "euro-road"]

    private func connect() throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo, applicationName: "conveyor-bench")
    }

    /// Fresh teams and reps, and (unless `wins == 0`) won accounts, analyzed,
    /// whose handoff jobs `enqueueHandoffs` adds.
    private func prepare(_ connection: PostgresConnection, wins: Int) throws {
        try connection.query(BenchQueries.resetHandoffData)
        let capacity = max(100, wins / (Self.teams.count * managers) * 2)
        try connection.query(BenchQueries.addBenchTeams, [Self.teams, capacity, managers])
        guard wins > 0 else { return }
        try connection.query(BenchQueries.addWonAccounts, [wins])
        try connection.execute(BenchQueries.analyzeAll)
    }

    /// One handoff job per won account, in account order, as
    /// `conveyor.record_win` enqueues them; their commit wakes the daemon.
    private func enqueueHandoffs(_ connection: PostgresConnection) throws {
        try connection.query(BenchQueries.enqueueHandoffs)
    }

    /// Checks that every win was handed off exactly once and nobody is over capacity.
    private func verify(_ connection: PostgresConnection, wins: Int, scenario: String) throws {
        let row = try connection.query(BenchQueries.handoffTotals)[0]
        let (active, handoffs, over) = (try row["active"].int(), try row["handoffs"].int(), try row["over"].int())
        guard active == wins, handoffs == wins, over == 0 else {
            throw BenchError("\(scenario): \(active) active, \(handoffs) handoffs for \(wins) wins, \(over) managers over capacity")
        }
    }

    /// What the handoffs made so far cost on disk, per handoff, and how long
    /// `conveyor.handoff_explanation` (what account.explain runs) takes for the newest 50.
    private func storage(_ connection: PostgresConnection) throws -> [(String, Double)] {
        let row = try connection.query(BenchQueries.handoffStorage)[0]
        let handoffs = max(1, Double(try row["handoffs"].int64()))
        var timings: [Double] = []
        for id in try connection.query(BenchQueries.latestHandoffs, [50]).map({ try $0["id"].int64() }) {
            let started = Date()
            _ = try connection.query(BenchQueries.explainHandoff, [id])
            timings.append(Date().timeIntervalSince(started) * 1000)
        }
        timings.sort()
        let handoffBytes = Double(try row["handoffs_bytes"].int64()), snapshotBytes = Double(try row["snapshot_bytes"].int64())
        return [
            ("managers_per_team", Double(managers)),
            ("explanation_bytes_per_handoff", Double(try row["explanation_bytes"].int64()) / handoffs),
            ("largest_explanation_bytes", Double(try row["largest_explanation_bytes"].int64())),
            ("handoffs_table_bytes_per_handoff", handoffBytes / handoffs),
            ("snapshot_bytes_per_handoff", snapshotBytes / handoffs),
            ("growth_bytes_per_handoff", (handoffBytes + snapshotBytes) / handoffs),
            ("snapshots", Double(try row["snapshots"].int64())),
            ("explain_ms_p50", timings.isEmpty ? 0 : timings[timings.count / 2]),
            ("explain_ms_max", timings.last ?? 0),
        ]
    }

    /// The daemon hands off `--jobs` wins; the clock runs from the jobs'
    /// commit to the handoff event that completes the count.
    func handoff() throws -> ScenarioResult {
        let connection = try connect()
        let listener = try connect()
        try prepare(connection, wins: 0)
        let daemon = try BenchDaemon(conninfo: conninfo, workers: options.workers, batchSize: options.batchSize)
        defer { daemon.stop() }
        try prepare(connection, wins: options.jobs)
        try listener.listen(EventStore.channel)
        let cpuBefore = daemon.cpuSeconds
        try enqueueHandoffs(connection)
        let started = Date()
        var peakRSS = daemon.residentBytes
        var handedOff = 0
        var lastProgress = started
        while handedOff < options.jobs {
            let events = try listener.waitForNotifications(timeout: 0.1)
            handedOff += events.compactMap { try? JSONDecoder().decode(HandoffsEvent.self, from: Data($0.payload.utf8)).count }.reduce(0, +)
            peakRSS = max(peakRSS, daemon.residentBytes)
            if !events.isEmpty { lastProgress = Date() }
            guard Date().timeIntervalSince(lastProgress) < 30 else {
                throw BenchError("handoff: stalled at \(handedOff) of \(options.jobs) handoffs")
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let cpu = daemon.cpuSeconds - cpuBefore
        try verify(connection, wins: options.jobs, scenario: "handoff")
        return ScenarioResult(scenario: "handoff", figures: [
            ("handoffs", Double(options.jobs)), ("seconds", seconds), ("handoffs_per_second", Double(options.jobs) / seconds),
            ("workers", Double(options.workers)), ("peak_rss_mib", Double(peakRSS) / 1_048_576),
            ("daemon_cpu_us_per_handoff", cpu / Double(options.jobs) * 1e6),
        ] + (try storage(connection)))
    }

    /// The part of a `handoffs` event on conveyor_events the bench counts.
    private struct HandoffsEvent: Decodable {
        let count: Int
    }

    /// The same row changes by hand-written SQL on one connection: claim a
    /// batch, spread its accounts round-robin over the team's managers with
    /// the skills and room, least loaded first (loads read once per batch), move the
    /// accounts, write the handoffs with an explanation of the same shape
    /// (each team's candidate list built once per batch), complete the jobs.
    func handoffRaw() throws -> ScenarioResult {
        let connection = try connect()
        try prepare(connection, wins: options.jobs)
        try enqueueHandoffs(connection)
        let started = Date()
        while true {
            let done = try connection.query(BenchQueries.rawHandoffBatch, [options.batchSize])[0]["done"].int()
            if done == 0 { break }
        }
        let seconds = Date().timeIntervalSince(started)
        return ScenarioResult(scenario: "handoff-raw", figures: [
            ("handoffs", Double(options.jobs)), ("seconds", seconds), ("handoffs_per_second", Double(options.jobs) / seconds),
        ])
    }

    /// Wins at `--rate` per second through record_win; pickup latency from
    /// the win's commit to the handoff batch's notification.
    func handoffLatency() throws -> ScenarioResult {
        let connection = try connect()
        let listener = try connect()
        try prepare(connection, wins: 0)
        try listener.listen(EventStore.channel)
        let daemon = try BenchDaemon(conninfo: conninfo, workers: options.workers, batchSize: options.batchSize)
        defer { daemon.stop() }
        let result = try Self.winLatency(teams: Self.teams, options: options, connection: connection, listener: listener)
        return ScenarioResult(scenario: "handoff-latency", figures: [
            ("rate_per_second", options.rate), ("wins", Double(result.count)),
            ("p50_ms", result.p50), ("p99_ms", result.p99), ("max_ms", result.max),
        ] + (try storage(connection)))
    }

    /// Wins at `--rate` per second for `--seconds` through record_win (hunter
    /// `hunter`, teams in turn); win commit to the handoff event that names
    /// it, in milliseconds. `listener` listens on the events channel.
    static func winLatency(
        teams: [String], options: BenchOptions, connection: PostgresConnection, listener: PostgresConnection
    ) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
        let driver = SteadyRate<String>(rate: options.rate, seconds: options.seconds, listener: listener)
        return try driver.run(
            send: { n in
                let ref = "live-\(n)"
                try connection.query(BenchQueries.recordBenchWin, [teams[n % teams.count], ref])
                return ref
            },
            completed: { listener, events in
                try events.flatMap { event -> [String] in
                    struct Range: Decodable { let team_id: Int64; let first_id: Int64; let last_id: Int64 }
                    guard let range = try? JSONDecoder().decode(Range.self, from: Data(event.payload.utf8)) else { return [] }
                    return try EventStore.handoffs(listener, teamId: range.team_id, firstId: range.first_id, lastId: range.last_id)
                        .map(\.account)
                }
            }
        )
    }
}
