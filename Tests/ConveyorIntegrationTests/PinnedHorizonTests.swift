import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing

/// A transaction left open in another session (a forgotten `BEGIN` in psql)
/// pins the xmin horizon: vacuum must keep every row version newer than its
/// snapshot. Against the real `conveyord`: the queue runs every job exactly
/// once meanwhile, `status` and `metrics` name who pins the horizon and for
/// how long, and once the transaction ends a vacuum reclaims the queue's
/// dead rows and the table stops growing. (What a pin costs in throughput
/// and claim latency over ten minutes: `conveyor-bench pinned`.)
@Suite struct PinnedHorizonTests {
    static let jobsPerRound = 2000

    @Test(.timeLimit(.minutes(2)))
    func aPinnedHorizonIsShownWhileTheQueueRunsAndItsRowsAreReclaimedAfter() throws {
        let conninfo = try TestPostgres.makeDatabase()
        // Succeeded jobs are pruned a second after they finish: the table holds only what vacuum could not reclaim.
        let daemon = try DaemonProcess(database: conninfo, environment: [
            "CONVEYOR_LOG_LEVEL": "notice", "CONVEYOR_POLL_INTERVAL": "0.2", "CONVEYOR_JOB_RETENTION": "1",
        ])
        defer { daemon.stop() }
        let client = try daemon.connect()
        let db = try TestPostgres.connect(conninfo)
        var rounds = 0
        /// One round of probe jobs, run and pruned, then a vacuum; the table's size and its unreclaimable dead rows.
        func round() throws -> (bytes: Int, dead: Int) {
            rounds += 1
            try QueueTest.insertProbeJobs(db, count: Self.jobsPerRound)
            let done = try HandoffDaemon.waitUntil(timeout: 40, interval: 0.05) {
                try QueueTest.probeRows(db) == rounds * Self.jobsPerRound
                    && QueueTest.int(db, "select count(*)::int from conveyor.jobs") == 0
            }
            let tally = try QueueTest.probeTally(db)
            #expect(done, "round \(rounds): \(tally)")
            try db.execute("vacuum conveyor.jobs")
            let row = try db.query("""
                select pg_relation_size('conveyor.jobs')::int as bytes, n_dead_tup::int as dead
                from pg_stat_user_tables where relid = 'conveyor.jobs'::regclass
                """)[0]
            return (try row["bytes"].int(), try row["dead"].int())
        }

        let warm = try round()
        let pin = try TestPostgres.connect(conninfo)
        try pin.execute("set application_name = 'forgotten-psql'")
        let pinPID = try pin.query("select pg_backend_pid() as pid")[0]["pid"].int()
        try pin.execute("begin isolation level repeatable read")
        _ = try pin.query("select count(*) from conveyor.jobs")
        let pinnedAt = Date()

        let pinned = try round()
        #expect(pinned.dead >= Self.jobsPerRound, "the pinned snapshot keeps each finished job's row: \(pinned)")
        #expect(pinned.bytes > warm.bytes, "while pinned the table grows: \(warm) then \(pinned)")
        // The pin's age as of the ask (status may share a read begun up to 250 ms before it),
        // not of the answer, which a loaded machine can delay by seconds.
        let asked = Date()
        let horizon = try #require(try client.result("status")["database"]?["xmin_horizon"])
        #expect(horizon["held_by"]?.stringValue == "pid \(pinPID) (forgotten-psql)", "\(horizon)")
        #expect((horizon["seconds"]?.doubleValue ?? 0) >= asked.timeIntervalSince(pinnedAt) - 1.5, "\(horizon)")
        #expect((horizon["xids"]?.intValue ?? 0) >= 1, "\(horizon)")
        let metrics = try #require(try client.result("metrics")["text"]?.stringValue)
        #expect((samples(metrics, "conveyor_database_xmin_horizon_seconds")[""] ?? 0) >= 1, "\(metrics)")
        #expect((samples(metrics, "conveyor_database_xmin_horizon_xids")[""] ?? 0) >= 1)

        try pin.execute("commit")
        try db.execute("vacuum conveyor.jobs")
        let released = try db.query("select n_dead_tup::int as dead from pg_stat_user_tables where relid = 'conveyor.jobs'::regclass")
        #expect(try released[0]["dead"].int() < Self.jobsPerRound / 20, "a vacuum after the release reclaims the dead rows")
        let after = try round()
        #expect(after.bytes <= pinned.bytes, "the reclaimed space takes the next round: \(pinned) then \(after)")
        #expect(after.dead < Self.jobsPerRound / 20, "\(after)")
        #expect(try client.result("status")["database"]?["xmin_horizon"]?["held_by"]?.stringValue != "pid \(pinPID) (forgotten-psql)")
        let tally = try QueueTest.probeTally(db)
        #expect(tally.probeRows == 3 * Self.jobsPerRound && tally.duplicated == 0, "every job ran once: \(tally)")
    }
}
