import Foundation

/// One scenario's figures: printed as a JSON line and as a table row.
struct ScenarioResult {
    let scenario: String
    var figures: [(String, Double)]

    /// For a `-raw` scenario, the ratio daemon/raw of their per-second figures
    /// when the daemon scenario ran first.
    mutating func appendRatio(to earlier: [ScenarioResult]) {
        guard scenario.hasSuffix("-raw"),
              let daemon = earlier.first(where: { $0.scenario == String(scenario.dropLast(4)) }),
              let (name, fast) = daemon.figures.first(where: { $0.0.hasSuffix("_per_second") }),
              let raw = figures.first(where: { $0.0 == name })?.1
        else { return }
        figures.append(("ratio_\(daemon.scenario)_to_raw", fast / raw))
    }

    func jsonLine() -> String {
        var object: [String: Any] = ["scenario": scenario]
        for (name, value) in figures { object[name] = (value * 1000).rounded() / 1000 }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func table(_ results: [ScenarioResult]) -> String {
        var lines = ["", "scenario         figure                        value", String(repeating: "-", count: 59)]
        for result in results {
            for (index, (name, value)) in result.figures.enumerated() {
                let label = index == 0 ? result.scenario : ""
                let number = value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.3f", value)
                lines.append(label.padding(toLength: 17, withPad: " ", startingAt: 0)
                    + name.padding(toLength: 30, withPad: " ", startingAt: 0) + number)
            }
        }
        return lines.joined(separator: "\n")
    }
}
