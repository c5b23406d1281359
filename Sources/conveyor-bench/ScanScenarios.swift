import ConveyorFixtures
import ConveyorPostgres
import Foundation

/// The attachment-scan scenarios over one generated team of `--accounts`
/// accounts and `--interactions` interactions (seed `--seed`), loaded once
/// for all of them: scan-raw (the rules as one hand-written read-only query).
final class ScanScenarios {
    let conninfo: String
    let options: BenchOptions
    static let team = "china-rail"
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
