import ConveyorFixtures
import ConveyorPostgres
import Foundation

/// `conveyor-bench generate`: loads one team's generated year into the
/// database (the demo's data) and reports the load and what a correct scan
/// of it finds; `--truth PATH` writes that ground truth as JSON.
enum GenerateCommand {
    static func run(_ options: BenchOptions, conninfo: String) throws -> ScenarioResult {
        let spec = YearSpec(seed: options.seed, asOf: Date(), teams: [
            TeamSize(name: options.team, timeZone: options.timeZone, accounts: options.accounts, interactions: options.interactions),
        ])
        let (plan, load) = try generate(spec, conninfo: conninfo)
        if let path = options.truthPath {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(plan.truth).write(to: URL(fileURLWithPath: path))
        }
        return ScenarioResult(scenario: "generate", figures: [
            ("seed", Double(options.seed)), ("accounts", Double(options.accounts)), ("interactions", Double(options.interactions)),
        ] + load + truthFigures(plan.truth))
    }

    /// Plans and loads `spec`; how long that took.
    static func generate(_ spec: YearSpec, conninfo: String) throws -> (YearPlan, [(String, Double)]) {
        let planned = Date()
        let plan = try FreightYear.plan(spec)
        let planSeconds = Date().timeIntervalSince(planned)
        let load = try YearLoader.load(plan, into: try PostgresConnection(conninfo: conninfo, applicationName: "conveyor-bench"))
        return (plan, [
            ("plan_seconds", planSeconds), ("load_seconds", load.seconds),
            ("interactions_loaded_per_second", Double(load.interactions) / load.seconds),
        ])
    }

    /// The ground truth in figures: accounts scanned and not scored, alerts per kind.
    static func truthFigures(_ truth: GroundTruth) -> [(String, Double)] {
        [("scanned", Double(truth.scanned.values.reduce(0, +))), ("not_scored", Double(truth.notScored.values.reduce(0, +)))]
            + AlertKind.allCases.map { kind in ("expected_\(kind.rawValue)", Double(truth.alerts.count { $0.kind == kind })) }
    }
}
