import ConveyorPostgres
import ConveyorStore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the work-queue tests (JobProcessorTests, QueueDaemonTests).
enum QueueTest {
    // MARK: SQL shorthands

    /// The first column of the first row as an integer.
    static func int(_ connection: PostgresConnection, _ sql: String, _ parameters: [any PostgresBindable] = []) throws -> Int {
        try connection.query(sql, parameters)[0][0].int()
    }

    /// One job's row, as the tests look at it.
    struct JobRow: Sendable, Equatable {
        let state: String
        let attempts: Int
        let maxAttempts: Int
        let lastError: String?
        let finished: Bool
        /// run_at − now(), in seconds (nil when run_at is infinity).
        let dueIn: Double?
    }

    static func job(_ connection: PostgresConnection, _ id: Int64) throws -> JobRow {
        let row = try connection.query("""
            select state, attempts, max_attempts, last_error, finished_at is not null as finished,
                   case when isfinite(run_at) then extract(epoch from run_at - now())::float8 end as due_in
            from conveyor.jobs where id = $1
            """, [id])[0]
        return JobRow(
            state: try row["state"].string(),
            attempts: try row["attempts"].int(),
            maxAttempts: try row["max_attempts"].int(),
            lastError: try row["last_error"].optionalString(),
            finished: try row["finished"].bool(),
            dueIn: row["due_in"].isNull ? nil : try row["due_in"].double()
        )
    }

    /// Inserts `count` probe jobs in one statement (one NOTIFY); returns their ids.
    @discardableResult
    static func insertProbeJobs(_ connection: PostgresConnection, count: Int) throws -> [Int64] {
        try connection.query(
            "insert into conveyor.jobs (kind) select 'probe' from generate_series(1, $1) returning id", [count]
        ).map { try $0["id"].int64() }
    }

    /// How the probe jobs of a database stand, for exactly-once checks.
    struct ProbeTally: Sendable, Equatable, CustomStringConvertible {
        /// Probe jobs in the queue.
        var jobs = 0
        /// …of which succeeded.
        var succeeded = 0
        /// …of which still to do (available or retryable).
        var pending = 0
        /// Jobs of any kind in state 'running' (never used: a claim is a row lock, not a state).
        var running = 0
        /// Rows in conveyor.probes.
        var probeRows = 0
        /// Job ids with more than one probe row.
        var duplicated = 0
        /// Succeeded probe jobs without a probe row.
        var missing = 0
        /// Probe rows of jobs that did not succeed (effects without completion).
        var orphaned = 0
        /// Succeeded probe jobs whose attempts are not 1 (a rolled-back claim costs no attempt).
        var reattempted = 0

        var description: String {
            "jobs \(jobs), succeeded \(succeeded), pending \(pending), running \(running), probe rows \(probeRows), "
                + "duplicated \(duplicated), missing \(missing), orphaned \(orphaned), reattempted \(reattempted)"
        }

        /// Every one of `expected` probe jobs ran exactly once.
        func isExactlyOnce(expected: Int) -> Bool {
            jobs == expected && succeeded == expected && pending == 0 && running == 0 && probeRows == expected
                && duplicated == 0 && missing == 0 && orphaned == 0 && reattempted == 0
        }
    }

    static func probeTally(_ connection: PostgresConnection) throws -> ProbeTally {
        let row = try connection.query("""
            select
              (select count(*) from conveyor.jobs where kind = 'probe')::int as jobs,
              (select count(*) from conveyor.jobs where kind = 'probe' and state = 'succeeded')::int as succeeded,
              (select count(*) from conveyor.jobs where kind = 'probe' and state in ('available', 'retryable'))::int as pending,
              (select count(*) from conveyor.jobs where state = 'running')::int as running,
              (select count(*) from conveyor.probes)::int as probe_rows,
              (select count(*) from (select job_id from conveyor.probes group by job_id having count(*) <> 1) as d)::int as duplicated,
              (select count(*) from conveyor.jobs as j where j.kind = 'probe' and j.state = 'succeeded'
                 and not exists (select 1 from conveyor.probes as p where p.job_id = j.id))::int as missing,
              (select count(*) from conveyor.probes as p where not exists (
                 select 1 from conveyor.jobs as j where j.id = p.job_id and j.state = 'succeeded'))::int as orphaned,
              (select count(*) from conveyor.jobs where kind = 'probe' and state = 'succeeded' and attempts <> 1)::int as reattempted
            """)[0]
        return ProbeTally(
            jobs: try row["jobs"].int(), succeeded: try row["succeeded"].int(), pending: try row["pending"].int(),
            running: try row["running"].int(), probeRows: try row["probe_rows"].int(),
            duplicated: try row["duplicated"].int(), missing: try row["missing"].int(),
            orphaned: try row["orphaned"].int(), reattempted: try row["reattempted"].int()
        )
    }

    /// Rows in conveyor.probes (cheap progress measure while a daemon burns jobs).
    static func probeRows(_ connection: PostgresConnection) throws -> Int {
        try int(connection, "select count(*)::int from conveyor.probes")
    }

    static func report(claimed: Int, succeeded: Int = 0, retried: Int = 0, dead: Int = 0, waiting: Int = 0) -> BatchReport {
        var report = BatchReport()
        report.claimed = claimed
        report.succeeded = succeeded
        report.retried = retried
        report.dead = dead
        report.waiting = waiting
        return report
    }
}

/// A throwaway PostgreSQL server of its own, for a test that restarts the
/// server (restarting the shared `TestPostgres` server would break the tests
/// running beside it). initdb in a temporary folder, Unix socket only, fsync
/// off; as root the tools run as the `postgres` user. Stopped by `stop()`.
final class PrivatePostgres: Sendable {
    let directory: String
    let binaries: String
    /// Conninfo without dbname.
    let conninfo: String
    private let counter = Atomic<Int>(0)

    private init(directory: String, binaries: String) {
        self.directory = directory
        self.binaries = binaries
        conninfo = "host=\(directory) port=5432 user=postgres"
    }

    static func start(name: String) throws -> PrivatePostgres {
        let binaries = try TestPostgres.findBinaries()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("conveyor-pg-\(name)-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try TestPostgres.run("/bin/chown", ["postgres:postgres", directory]) }
        try TestPostgres.run(
            binaries + "/initdb", ["-D", directory + "/data", "-U", "postgres", "-A", "trust", "--no-sync"], asPostgres: true)
        let options = "-k \(directory) -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=100"
        try TestPostgres.pgctl(
            binaries, ["-D", directory + "/data", "-o", options, "-l", directory + "/log", "-w", "start"], directory: directory)
        return PrivatePostgres(directory: directory, binaries: binaries)
    }

    /// A new database with conveyor's schema; returns its conninfo.
    func makeDatabase() throws -> String {
        let name = "q_\(getpid())_\(counter.add(1, ordering: .relaxed).newValue)"
        let admin = try PostgresConnection(conninfo: conninfo + " dbname=postgres")
        try admin.execute("CREATE DATABASE \(name)")
        let conninfo = self.conninfo + " dbname=\(name)"
        try Migrator().migrate(try PostgresConnection(conninfo: conninfo))
        return conninfo
    }

    /// Restarts the server with fast shutdown: every connection drops.
    func restart() throws {
        try TestPostgres.pgctl(binaries, ["-D", directory + "/data", "-m", "fast", "-w", "restart"], directory: directory)
    }

    /// Stops the server at once and removes its folder.
    func stop() {
        try? TestPostgres.pgctl(binaries, ["-D", directory + "/data", "-m", "immediate", "-w", "stop"], directory: directory)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The test's own view of a database while daemons work on it: a connection
/// that is replaced when it is lost (a server restart), and bounded waits.
/// Blocking: use it from a synchronous test.
final class QueueWatcher {
    let conninfo: String
    private var connection: PostgresConnection?

    init(_ conninfo: String) { self.conninfo = conninfo }

    /// Runs `body`, reconnecting (for up to `patience` seconds) when the connection is lost.
    @discardableResult
    func with<T>(patience: Double = 30, _ body: (PostgresConnection) throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(patience)
        while true {
            do {
                if connection?.isBroken ?? true {
                    connection = nil
                    connection = try TestPostgres.connect(conninfo)
                }
                return try body(connection!)
            } catch let error as PostgresError where error.isConnectionLoss || connection?.isBroken == true {
                connection = nil
                if Date() >= deadline { throw error }
                usleep(100_000)
            }
        }
    }

    func tally() throws -> QueueTest.ProbeTally { try with { try QueueTest.probeTally($0) } }
    func probeRows() throws -> Int { try with { try QueueTest.probeRows($0) } }
    func pending() throws -> Int {
        try with { try QueueTest.int($0, "select count(*)::int from conveyor.jobs where state in ('available', 'retryable')") }
    }

    /// Polls `condition` every `interval` seconds until it holds (true) or `timeout` passes (false).
    func waitUntil(timeout: Double, interval: Double = 0.02, _ condition: (PostgresConnection) throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if try with(condition) { return true }
            if Date() >= deadline { return false }
            usleep(useconds_t(interval * 1_000_000))
        }
    }
}
