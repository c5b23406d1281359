import ConveyorProtocol
import Foundation
import Testing

/// The nightly scan's scheduler in real `conveyord` processes: a due scan is
/// scheduled once per team and local date with several daemons and across
/// restarts, never before the team existed, as soon as its time comes while
/// running, and `status` shows each team's next and last scan. A zone that
/// PostgreSQL knows and Foundation does not is skipped without a crash.
///
/// The scan job's handler is not part of these tests: the assertions are on
/// `conveyor.scan_schedule` and the `scan` jobs' rows. Times are in zones
/// without DST (Asia/Kathmandu, Asia/Tokyo) so that "a minute ago" is one
/// wall-clock minute on any day.
@Suite struct ScanSchedulerDaemonTests {
    /// Debug: the scheduler logs each round ("checked the scan schedule").
    static let environment = ["CONVEYOR_LOG_LEVEL": "debug"]
    static let checked = "checked the scan schedule"

    /// Starts `count` daemons at once and waits until each has finished a scheduling round.
    static func start(_ count: Int, _ conninfo: String, environment: [String: String] = environment) throws -> [DaemonProcess] {
        let daemons = try (0..<count).map { _ in
            try DaemonProcess(database: conninfo, environment: environment, waitUntilReady: false)
        }
        for daemon in daemons {
            try daemon.waitUntilReady()
            guard daemon.waitForLog(message: checked) else {
                daemons.forEach { $0.stop() }
                throw TestSetupError("conveyord made no scheduling round; log:\n\(daemon.log)")
            }
        }
        return daemons
    }

    static func scheduledLogs(_ daemons: [DaemonProcess]) -> [JSONValue] {
        daemons.flatMap { $0.logRecords.filter { $0["msg"]?.stringValue == "scheduled a nightly scan" } }
    }

    @Test(.timeLimit(.minutes(1)))
    func twoDaemonsScheduleADueScanOnce() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        let rail = try ScanTest.addTeam(db, "rail", scanIn: -60, createdAgo: 2 * 86_400)
        let sea = try ScanTest.addTeam(db, "sea", zone: "Asia/Tokyo", scanIn: -3600, createdAgo: 2 * 86_400)

        let daemons = try Self.start(2, conninfo)
        defer { daemons.forEach { $0.stop() } }
        let scheduled = try ScanTest.scheduled(db)
        #expect(scheduled.map(\.teamId) == [rail.id, sea.id], "\(scheduled)")
        #expect(scheduled.first == ScanTest.expected(rail.id, rail.scanDate, job: scheduled.first?.jobId ?? 0))
        #expect(scheduled.last == ScanTest.expected(sea.id, sea.scanDate, job: scheduled.last?.jobId ?? 0))
        #expect(try ScanTest.scanJobs(db) == 2)
        let logs = Self.scheduledLogs(daemons)
        #expect(logs.compactMap { $0["team"]?.stringValue }.sorted() == ["rail", "sea"], "\(logs)")
        #expect(logs.first { $0["team"] == "rail" }?["local_date"]?.stringValue == rail.scanDate)
        #expect(daemons.allSatisfy { $0.isRunning })
    }

    @Test(.timeLimit(.minutes(1)))
    func aPausedTeamIsNotScannedAtNight() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        let rail = try ScanTest.addTeam(db, "rail", scanIn: -60, createdAgo: 2 * 86_400)
        try db.query("update conveyor.teams set paused = true where id = $1", [rail.id])
        let daemons = try Self.start(1, conninfo)
        defer { daemons.forEach { $0.stop() } }
        #expect(try ScanTest.scheduled(db).isEmpty)
        #expect(try ScanTest.scanJobs(db) == 0)
        let status = try daemons[0].connect().result("status")
        #expect(status["scans"]?.arrayValue?.first?["next_scan"] == .null, "\(status)")
    }

    @Test(.timeLimit(.minutes(1)))
    func aRestartSchedulesNoSecondScanForTheDate() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        let rail = try ScanTest.addTeam(db, "rail", scanIn: -60, createdAgo: 2 * 86_400)
        let first = try Self.start(1, conninfo)
        first.forEach { $0.stop() }
        let before = try ScanTest.scheduled(db)
        #expect(before.map(\.localDate) == [rail.scanDate])

        let second = try Self.start(1, conninfo)
        defer { second.forEach { $0.stop() } }
        #expect(try ScanTest.scheduled(db) == before)
        #expect(try ScanTest.scanJobs(db) == 1)
        #expect(Self.scheduledLogs(second).isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func aTeamCreatedAfterTodaysTimeWaitsForItsNextOne() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        _ = try ScanTest.addTeam(db, "rail", scanIn: -3600, createdAgo: 60)
        let daemons = try Self.start(1, conninfo)
        defer { daemons.forEach { $0.stop() } }
        #expect(try ScanTest.scheduled(db) == [])
        #expect(try ScanTest.scanJobs(db) == 0)
    }

    /// With rounds every 0.2 s, a team created now whose scan time is 10 s
    /// away (time for a start on a loaded machine) gets nothing at start and
    /// its scan right after that time: within `scheduledWithin`, wide for a
    /// loaded machine, where rounds at the default 30 s would be about 20 s
    /// late, and a scheduler that looked only at start would never schedule it.
    @Test(.timeLimit(.minutes(1)))
    func aScanTimeThatComesWhileRunningIsScheduledWithinARound() throws {
        let scheduledWithin = 10.0
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        let rail = try ScanTest.addTeam(db, "rail", scanIn: 10, createdAgo: 0)
        var environment = Self.environment
        environment["CONVEYOR_SCAN_CHECK_INTERVAL"] = "0.2"
        let daemons = try Self.start(1, conninfo, environment: environment)
        defer { daemons.forEach { $0.stop() } }
        #expect(try ScanTest.scheduled(db) == [])

        let watcher = QueueWatcher(conninfo)
        #expect(try watcher.waitUntil(timeout: 30) { try !ScanTest.scheduled($0).isEmpty })
        #expect(try ScanTest.scheduled(db).map(\.localDate) == [rail.scanDate])
        let lateness = try db.query("select extract(epoch from created_at - due_at)::float8 from conveyor.scan_schedule")[0][0].double()
        #expect(lateness >= 0 && lateness < scheduledWithin, "scheduled \(lateness) s after its time")
    }

    @Test(.timeLimit(.minutes(1)))
    func aZoneFoundationDoesNotKnowIsSkippedAndSaidOnce() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        _ = try ScanTest.addTeam(db, "posix", zone: "posix/Asia/Kathmandu", scanIn: -60, createdAgo: 2 * 86_400)
        let rail = try ScanTest.addTeam(db, "rail", scanIn: -60, createdAgo: 2 * 86_400)
        var environment = Self.environment
        environment["CONVEYOR_SCAN_CHECK_INTERVAL"] = "0.05"
        let daemons = try Self.start(1, conninfo, environment: environment)
        defer { daemons.forEach { $0.stop() } }
        let daemon = daemons[0]
        // Some rounds after the first (every 0.05 s; the wait only ends a hang), each of which looks at the zone again.
        _ = eventually { daemon.logRecords.filter { $0["msg"]?.stringValue == Self.checked }.count > 2 }
        #expect(daemon.isRunning)
        #expect(try ScanTest.scheduled(db).map(\.teamId) == [rail.id])
        let skipped = daemon.logRecords.filter { $0["msg"]?.stringValue?.hasPrefix("skipping the nightly scan") == true }
        #expect(skipped.count == 1, "\(skipped)")
        #expect(skipped.first?["team"] == "posix" && skipped.first?["time_zone"] == "posix/Asia/Kathmandu")
        #expect(daemon.logRecords.filter { $0["msg"]?.stringValue == Self.checked }.count > 2)
    }

    @Test(.timeLimit(.minutes(1)))
    func statusShowsEachTeamsNextAndLastScan() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        // Its scan time an hour ahead and the team a minute old: no scheduled scan runs (and
        // becomes the last one) meanwhile.
        let rail = try ScanTest.addTeam(db, "rail", scanIn: 3600, createdAgo: 60)
        _ = try ScanTest.addTeam(db, "posix", zone: "posix/Asia/Kathmandu", scanIn: 0, createdAgo: 0)
        try db.query("""
            insert into conveyor.scan_runs (team_id, trigger, local_date, started_at, finished_at, outcome)
            values ($1, 'manual', null, '2026-06-02 09:00Z', '2026-06-02 09:00:05Z', '{"scanned": 4, "opened": 1}')
            """, [rail.id])
        // The next scan as PostgreSQL's own zone rules say: the one an hour from now.
        let next = try db.query("""
            select to_char(local, 'YYYY-MM-DD"T"HH24:MI:SS') as local,
                   to_char(local at time zone time_zone at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS".000Z"') as utc
            from (select $2::date + scan_local_time as local, time_zone from conveyor.teams where id = $1) as n
            """, [rail.id, rail.scanDate])[0]
        let daemons = try Self.start(1, conninfo)
        defer { daemons.forEach { $0.stop() } }

        let scans = try #require(try daemons[0].connect().result("status")["scans"]?.arrayValue)
        #expect(scans.count == 2)
        let railStatus = try #require(scans.first { $0["team"] == "rail" })
        #expect(railStatus["next_scan"] == [
            "local": .string(try next["local"].string()), "time_zone": "Asia/Kathmandu", "utc": .string(try next["utc"].string()),
        ])
        #expect(railStatus["last_scan"] == [
            "trigger": "manual", "started_at": "2026-06-02T09:00:00.000Z", "finished_at": "2026-06-02T09:00:05.000Z",
            "outcome": ["scanned": 4, "opened": 1],
        ])
        let posixStatus = try #require(scans.first { $0["team"] == "posix" })
        #expect(posixStatus["next_scan"] == .null && posixStatus["last_scan"] == .null)
    }
}
