import ConveyorPostgres
import ConveyorStore
import Foundation

// conveyor-bench: prepares its data in CONVEYOR_DATABASE_URL, runs the chosen
// scenarios, prints one JSON line per scenario and then a readable table.

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("conveyor-bench: \(message)\n".utf8))
    exit(1)
}

let options: BenchOptions
do {
    options = try BenchOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error)")
}
let conninfo = ProcessInfo.processInfo.environment["CONVEYOR_DATABASE_URL"] ?? ""
do {
    try Migrator().migrate(try PostgresConnection(conninfo: conninfo, applicationName: "conveyor-bench"))
} catch {
    fail("cannot prepare the database: \(error)")
}

if options.generate {
    do {
        print(try GenerateCommand.run(options, conninfo: conninfo).jsonLine())
    } catch {
        fail("generate: \(error)")
    }
    exit(0)
}

let queue = QueueScenarios(conninfo: conninfo, options: options)
let scans = ScanScenarios(conninfo: conninfo, options: options)
let admin = AdminScenarios(conninfo: conninfo, options: options)
var results: [ScenarioResult] = []
for scenario in options.scenarios {
    // The handoff scenarios run once per team size.
    for managers in scenario.hasPrefix("handoff") ? options.managers : [0] {
        let handoffs = HandoffScenarios(conninfo: conninfo, options: options, managers: managers)
        do {
            var result: ScenarioResult
            switch scenario {
            case "noop": result = try queue.noop()
            case "noop-raw": result = try queue.noopRaw()
            case "latency": result = try queue.latency()
            case "idle": result = try queue.idle()
            case "pinned": result = try queue.pinned()
            case "handoff": result = try handoffs.handoff()
            case "handoff-raw": result = try handoffs.handoffRaw()
            case "scan": result = try scans.scan()
            case "scan-raw": result = try scans.scanRaw()
            case "admin": result = try admin.admin()
            default: result = try handoffs.handoffLatency()
            }
            result.appendRatio(to: results)
            print(result.jsonLine())
            results.append(result)
        } catch {
            fail("\(scenario): \(error)")
        }
    }
}
print(ScenarioResult.table(results))
