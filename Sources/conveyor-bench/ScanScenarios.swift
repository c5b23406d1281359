import ConveyorFixtures
import ConveyorPostgres
import ConveyorStore
import Foundation
import Synchronization

/// The attachment-scan scenarios over one generated team of `--accounts`
/// accounts and `--interactions` interactions (seed `--seed`), loaded once
/// for all of them: scan (`scan.run` through the daemon's socket, alone and
/// while status is asked and wins are handed off in another team) and
/// scan-raw (the rules as one hand-written read-only query). Both check that
/// they found exactly the generator's ground truth.
final class ScanScenarios {
    let conninfo: String
    let options: BenchOptions
    static let team = "china-rail"
    /// The teams whose handoffs are timed while scans run: one per run of
    /// wins, whose accounts are named live-0, live-1, … in each.
    static let otherTeams = ["warsaw-hub", "lodz-hub"]
    /// How long `status` is timed during the scan before the wins start.
    static let statusAloneSeconds = 15.0
    /// The loaded year and the load's figures, once loaded.
    private var loaded: (plan: YearPlan, figures: [(String, Double)])?

    init(conninfo: String, options: BenchOptions) {
        self.conninfo = conninfo
        self.options = options
    }

    private func connect() throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo, applicationName: "conveyor-bench")
    }

    /// The generated year, loaded into emptied tables the first time; the
    /// load's figures go with the first scenario that ran it.
    private func prepare() throws -> (plan: YearPlan, figures: [(String, Double)]) {
        if let loaded { return (loaded.plan, []) }
        try connect().query(BenchQueries.resetHandoffData)
        let spec = YearSpec(seed: options.seed, asOf: Date(), teams: [
            TeamSize(name: Self.team, timeZone: "Asia/Shanghai", accounts: options.accounts, interactions: options.interactions),
        ])
        let (plan, figures) = try GenerateCommand.generate(spec, conninfo: conninfo)
        loaded = (plan, figures)
        return (plan, figures)
    }

    /// The found alerts must be the generator's ground truth, exactly.
    private func verify(_ found: [ExpectedAlert], _ truth: GroundTruth, scenario: String) throws {
        let expected = Set(truth.alerts(team: Self.team)), got = Set(found)
        guard expected == got, found.count == got.count else {
            throw BenchError("\(scenario): \(expected.subtracting(got).count) alerts of the ground truth missing, "
                + "\(got.subtracting(expected).count) extra; e.g. \(expected.symmetricDifference(got).sorted().prefix(3))")
        }
    }

    /// The team scanned through conveyorctl and the daemon's socket, one
    /// `scan.run` per measurement so that none slows another: the first
    /// scan alone (seconds, daemon RSS before and after; it opens every
    /// alert), a rescan alone (what a night costs once the alerts exist: it
    /// updates them), then scans during which 50 admin clients ask for
    /// `status` ten times a second each for 15 s, wins at `--rate` for
    /// `--seconds` in another team of 20 managers are timed from commit to
    /// handoff event, and both at once (the scan should slow none of them).
    func scan() throws -> ScenarioResult {
        let (plan, load) = try prepare()
        let connection = try connect()
        try connection.query(BenchQueries.addBenchTeams, [Self.otherTeams, 1_000_000, 20])
        let daemon = try BenchDaemon(conninfo: conninfo, workers: options.workers, batchSize: options.batchSize)
        defer { daemon.stop() }
        let socket = daemon.directory + "/admin.sock", statusSeconds = options.seconds
        @Sendable func status(seconds: Double) throws -> Percentiles {
            try AdminScenarios.steadyLatency(
                "status", socket: socket, clients: AdminScenarios.clients, rate: AdminScenarios.statusRate, seconds: seconds)
        }
        // A listener of its own for each run of wins: none has the earlier scans' alert events to read first.
        func wins(in team: String) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
            let listener = try connect()
            try listener.listen(EventStore.channel)
            return try HandoffScenarios.winLatency(teams: [team], options: options, connection: connection, listener: listener)
        }

        let rssBefore = daemon.residentBytes
        let first = try timedScan(daemon) {}
        let rssAfter = daemon.residentBytes
        try verify(try RawRules.raised(team: Self.team, connection), plan.truth, scenario: "scan")
        let rescan = try timedScan(daemon) {}
        let statusAlone = try timedScan(daemon) { try status(seconds: Self.statusAloneSeconds) }
        let winsAlone = try timedScan(daemon) { try wins(in: Self.otherTeams[0]) }
        let both = try timedScan(daemon) {
            let statusDuring = Mutex<Result<Percentiles, Error>>(.failure(BenchError("status clients did not run")))
            let statusDone = DispatchGroup()
            statusDone.enter()
            Thread {
                let result = Result { try status(seconds: statusSeconds) }
                statusDuring.withLock { $0 = result }
                statusDone.leave()
            }.start()
            let latency = try wins(in: Self.otherTeams[1])
            statusDone.wait()
            return (status: try statusDuring.withLock { $0 }.get(), wins: latency)
        }
        try verify(try RawRules.raised(team: Self.team, connection), plan.truth, scenario: "rescans")
        func figure(_ key: String) -> Double { (first.outcome[key] as? NSNumber)?.doubleValue ?? -1 }
        return ScenarioResult(scenario: "scan", figures: [
            ("accounts", Double(options.accounts)), ("interactions", Double(options.interactions)), ("seconds", first.seconds),
            ("accounts_scanned_per_second", Double(options.accounts) / first.seconds),
            ("scan_duration_ms", figure("duration_ms")), ("opened", figure("opened")), ("not_scored", figure("not_scored")),
            ("rss_before_mib", Double(rssBefore) / 1_048_576), ("rss_after_mib", Double(rssAfter) / 1_048_576),
            ("rescan_seconds", rescan.seconds),
            ("status_alone_p50_ms", statusAlone.result.p50), ("status_alone_p99_ms", statusAlone.result.p99),
            ("scan_outlasted_status_alone", statusAlone.outlasted ? 1 : 0),
            ("handoff_rate_per_second", options.rate), ("handoffs_during_scan", Double(winsAlone.result.count)),
            ("handoff_p50_ms", winsAlone.result.p50), ("handoff_p99_ms", winsAlone.result.p99), ("handoff_max_ms", winsAlone.result.max),
            ("scan_outlasted_handoffs", winsAlone.outlasted ? 1 : 0),
            ("status_with_handoffs_p50_ms", both.result.status.p50), ("status_with_handoffs_p99_ms", both.result.status.p99),
            ("handoff_with_status_p50_ms", both.result.wins.p50), ("handoff_with_status_p99_ms", both.result.wins.p99),
            ("scan_outlasted_both", both.outlasted ? 1 : 0),
        ] + load)
    }

    /// One `scan.run` of the team through conveyorctl, with `meanwhile` run
    /// while it does: its seconds and outcome, whether the scan was still
    /// running when `meanwhile` returned, and what `meanwhile` returned.
    private func timedScan<T>(
        _ daemon: BenchDaemon, meanwhile: () throws -> T
    ) throws -> (seconds: Double, outcome: [String: Any], outlasted: Bool, result: T) {
        let finishedAt = Mutex<Date?>(nil)
        let started = Date()
        let (ctl, output) = try daemon.conveyorctl(["--timeout", "3600", "scan.run", "team=\(Self.team)"]) {
            finishedAt.withLock { $0 = Date() }
        }
        let result = try meanwhile()
        let outlasted = finishedAt.withLock { $0 } == nil
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        ctl.waitUntilExit()
        let seconds = (finishedAt.withLock { $0 } ?? Date()).timeIntervalSince(started)
        guard ctl.terminationStatus == 0,
              let outcome = try JSONSerialization.jsonObject(with: answer) as? [String: Any]
        else { throw BenchError("scan: scan.run failed (\(ctl.terminationStatus)): \(String(decoding: answer, as: UTF8.self))") }
        return (seconds, outcome, outlasted, result)
    }

    /// The rules over the whole team as one hand-written aggregate query, no writes.
    func scanRaw() throws -> ScenarioResult {
        let (plan, load) = try prepare()
        let connection = try connect()
        let started = Date()
        let found = try RawRules.alerts(team: Self.team, connection)
        let seconds = Date().timeIntervalSince(started)
        try verify(found, plan.truth, scenario: "scan-raw")
        return ScenarioResult(scenario: "scan-raw", figures: [
            ("accounts", Double(options.accounts)), ("interactions", Double(options.interactions)), ("seconds", seconds),
            ("accounts_scanned_per_second", Double(options.accounts) / seconds), ("alerts", Double(found.count)),
        ] + load)
    }
}
