import Foundation

/// Command-line options of conveyor-bench.
struct BenchOptions {
    var scenarios: [String] = []
    var jobs = 100_000
    var rate = 200.0
    var seconds = 10.0
    var idleSeconds = 20.0
    /// How long `pinned` holds its snapshot.
    var pinSeconds = 600.0
    var workers = 2
    var batchSize = 1000
    /// Account managers per team; the handoff scenarios run once for each.
    var managers = [50]
    /// `generate`: load a generated year instead of running scenarios.
    var generate = false
    /// The generated year of `generate` and the scan scenarios.
    var seed: UInt64 = 1
    var accounts = 200_000
    var interactions = 10_000_000
    var team = "china-rail"
    var timeZone = "Asia/Shanghai"
    /// `generate`: where to write the ground truth as JSON.
    var truthPath: String?

    static let usage = """
        usage: conveyor-bench [options] [scenario ...]
               conveyor-bench generate [--seed N] [--accounts N] [--interactions N] [--team NAME]
                                       [--time-zone ZONE] [--truth PATH]

        Prepares its own data in the database named by CONVEYOR_DATABASE_URL
        (its conveyor schema is migrated and its jobs are truncated) and prints
        one JSON line per scenario, then a table. scripts/bench runs it against
        a throwaway PostgreSQL. The daemon scenarios start the conveyord found
        beside this binary (or in CONVEYOR_BIN_DIR); scan also runs the conveyorctl there.

        scenarios (default: all of them, in this order):
          noop       burn down --jobs no-op jobs with the daemon's workers; jobs/s, peak RSS
          noop-raw   the same row changes by hand-written set-based SQL, no daemon; jobs/s and
                     the ratio noop/noop-raw (when both ran)
          latency    enqueue probe jobs at --rate per second for --seconds; enqueue commit to
                     completion notification p50/p99/max
          idle       transactions per second of an idle daemon over --idle-seconds
          handoff    --jobs won accounts over 3 teams of --managers account managers (mixed
                     skills), handed off by the daemon; handoffs/s, peak RSS, bytes stored
                     per handoff, and how long conveyor.handoff_explanation takes
          handoff-raw      the same row changes by hand-written set-based SQL; handoffs/s
                           and the ratio handoff/handoff-raw (when both ran)
          handoff-latency  wins through record_win at --rate per second for --seconds;
                           win commit to handoff notification p50/p99/max, bytes
                           stored per handoff
          scan       a generated year of --accounts accounts and --interactions interactions in
                     one team (loaded once for scan and scan-raw: load seconds), then scan.run
                     through the daemon's socket, once per figure: the first scan alone (seconds,
                     daemon RSS before and after), a rescan alone (seconds), then scans during
                     which status latency of 50 admin clients at 10/s each for 15 s, handoff
                     latency of wins at --rate for --seconds in another team, and both at once
                     are timed; the alerts must be the generator's ground truth
          scan-raw   the attachment rules over the same team as one hand-written read-only
                     query: seconds, alerts found (the ground truth too), and the ratio
                     scan/scan-raw of accounts scanned per second (when both ran)
          admin      the admin socket: 100000 pipelined pings on one connection (per second);
                     status, then ping, from 50 clients at 10/s each for --seconds (p50/p99); status and
                     ping from 50 clients as fast as answered for --seconds (p99 of each and
                     their ratio); 1000 watch streams: database connections they hold and
                     handoff event delivery p50/p99 of 20 wins (needs `ulimit -n` above 1100)
          pinned     (only when named) probe jobs at --rate while another session holds a snapshot
                     for --pin-seconds, in windows of --seconds: 3 before, the pin, then 2 minutes
                     after; each window's latency p99, jobs done per second, the jobs table's size
                     and dead rows and the xmin horizon's age, and the ratios of the worst pinned
                     window to the windows before

        generate loads a generated freight forwarder's year of one team into the
        database (which must not have that team yet) and prints what a correct
        scan of it finds; the same --seed always gives the same data.

        options:
          --jobs N          jobs for noop and noop-raw (default 100000)
          --rate R          enqueues per second for latency (default 200)
          --seconds S       latency duration (default 10)
          --idle-seconds S  idle duration (default 20)
          --pin-seconds S   how long pinned holds its snapshot (default 600)
          --workers W       daemon workers (default 2)
          --batch B         jobs per claim, daemon and raw (default 1000)
          --managers M[,M]  account managers per team in the handoff scenarios, which run once
                            for each value, in one server (default 50)
          --seed N          seed of the generated year (default 1)
          --accounts N      accounts of the generated team (default 200000; quick: 20000)
          --interactions N  its interactions over the year (default 10000000; quick: 1000000)
          --team NAME       generate: the team's name (default china-rail)
          --time-zone ZONE  generate: its IANA time zone (default Asia/Shanghai)
          --truth PATH      generate: write the ground truth (every alert a scan must raise) as JSON
        """

    static func parse(_ arguments: [String]) throws -> BenchOptions {
        var options = BenchOptions()
        var remaining = arguments[...]
        func value(_ flag: String) throws -> Double {
            guard let text = remaining.popFirst(), let number = Double(text), number > 0, number.isFinite else {
                throw BenchError("\(flag) needs a positive number")
            }
            return number
        }
        func text(_ flag: String) throws -> String {
            guard let text = remaining.popFirst(), !text.isEmpty else { throw BenchError("\(flag) needs a value") }
            return text
        }
        while let argument = remaining.popFirst() {
            switch argument {
            case "--help", "-h": throw BenchError(usage)
            case "--jobs": options.jobs = Int(try value(argument))
            case "--rate": options.rate = try value(argument)
            case "--seconds": options.seconds = try value(argument)
            case "--idle-seconds": options.idleSeconds = try value(argument)
            case "--pin-seconds": options.pinSeconds = try value(argument)
            case "--workers": options.workers = Int(try value(argument))
            case "--batch": options.batchSize = Int(try value(argument))
            case "--managers":
                let values = (remaining.popFirst() ?? "").split(separator: ",").map { Int($0) }
                guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
                    throw BenchError("--managers needs positive whole numbers, comma-separated")
                }
                options.managers = values.map { $0! }
            case "--seed":
                guard let seed = UInt64(try text(argument)) else { throw BenchError("--seed needs a whole number") }
                options.seed = seed
            case "--accounts": options.accounts = Int(try value(argument))
            case "--interactions": options.interactions = Int(try value(argument))
            case "--team": options.team = try text(argument)
            case "--time-zone": options.timeZone = try text(argument)
            case "--truth": options.truthPath = try text(argument)
            case "generate": options.generate = true
            case let name where Scenario.all.contains(name) || Scenario.onlyWhenNamed.contains(name): options.scenarios.append(name)
            default: throw BenchError("unknown argument \(argument.prefix(80)); see --help")
            }
        }
        guard !options.generate || options.scenarios.isEmpty else { throw BenchError("generate runs alone, without scenarios") }
        if options.scenarios.isEmpty { options.scenarios = Scenario.all }
        return options
    }
}

/// The scenarios conveyor-bench knows.
enum Scenario {
    static let all = ["noop", "noop-raw", "latency", "idle", "handoff", "handoff-raw", "handoff-latency", "scan", "scan-raw", "admin"]
    /// Too long for a default run: ten minutes and more.
    static let onlyWhenNamed = ["pinned"]
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
