import ConveyorCore
import ConveyorPostgres
import Foundation
import Testing
// @testable: the records have no public initializers; whole records compare in one line.
@testable import ConveyorStore

/// The nightly scan's schedule against a real PostgreSQL: a team's local
/// date is claimed once, with one unscoped `scan` job, however many
/// schedulers try at once; the teams' settings and newest runs as the
/// scheduler and `status` read them.
@Suite struct NightlyScansTests {
    static let june3 = LocalDate(year: 2026, month: 6, day: 3)!

    @Test func aDateIsClaimedOnceWithOneScanJobOutsideTheTeamsLock() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        let team = try ScanTest.addTeam(db, "rail", scanIn: -60, createdAgo: 86_400)
        let due = ISO8601.parse("2026-06-02T20:15:00Z")!

        let job = try #require(try NightlyScans.schedule(db, teamId: team.id, localDate: Self.june3, dueAt: due))
        #expect(try ScanTest.scheduled(db) == [ScanTest.expected(team.id, "2026-06-03", job: job)])
        #expect(try db.query("select due_at from conveyor.scan_schedule")[0]["due_at"].date() == due)
        #expect(!db.inTransaction)

        // Again, and again after the job is gone (finished jobs get pruned): the date stays claimed.
        #expect(try NightlyScans.schedule(db, teamId: team.id, localDate: Self.june3, dueAt: due) == nil)
        try db.execute("delete from conveyor.jobs")
        #expect(try NightlyScans.schedule(db, teamId: team.id, localDate: Self.june3, dueAt: due) == nil)
        #expect(try ScanTest.scanJobs(db) == 0)
        #expect(!db.inTransaction)

        // The next date is a claim of its own.
        let next = try #require(try NightlyScans.schedule(db, teamId: team.id, localDate: Self.june3.adding(days: 1), dueAt: due + 86_400))
        #expect(try ScanTest.scheduled(db).last == ScanTest.expected(team.id, "2026-06-04", job: next))
    }

    @Test func concurrentSchedulersClaimADateOnce() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        let team = try ScanTest.addTeam(db, "rail", scanIn: -60, createdAgo: 86_400)
        let results = TestPostgres.onThreads(8, connect: { try TestPostgres.connect(conninfo) }) { _, connection in
            try NightlyScans.schedule(connection, teamId: team.id, localDate: Self.june3, dueAt: Date())
        }
        let jobs = try results.map { try $0.get() }
        #expect(jobs.compactMap { $0 }.count == 1, "\(jobs)")
        let job = try #require(jobs.compactMap { $0 }.first)
        #expect(try ScanTest.scheduled(db) == [ScanTest.expected(team.id, "2026-06-03", job: job)])
        #expect(try ScanTest.scanJobs(db) == 1)
    }

    @Test func teamsCarryTheirZoneTimeCreationAndLatestScheduledDate() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        try db.execute("""
            insert into conveyor.teams (name, time_zone, scan_local_time, created_at) values
                ('rail', 'Asia/Kathmandu', '23:59:59.9', '2026-01-02 03:04:05Z'),
                ('sea', 'posix/Europe/Berlin', default, '2026-01-01Z')
            """)
        let rail = try db.query("select id from conveyor.teams where name = 'rail'")[0]["id"].int64()
        for day in [3, 1, 2] {
            _ = try NightlyScans.schedule(db, teamId: rail, localDate: LocalDate(year: 2026, month: 6, day: day)!, dueAt: Date())
        }
        let teams = try NightlyScans.teams(db)
        #expect(teams.map(\.name) == ["rail", "sea"])
        #expect(teams[0] == ScanTeam(
            id: rail, name: "rail", timeZone: "Asia/Kathmandu", hour: 23, minute: 59, second: 59,
            createdAt: ISO8601.parse("2026-01-02T03:04:05Z")!, paused: false, lastScheduled: Self.june3))
        #expect(teams[1].lastScheduled == nil && (teams[1].hour, teams[1].minute, teams[1].second) == (2, 0, 0))
        #expect(try teams[0].calendar().secondsOfDay == 86_399)
        // PostgreSQL knows posix/ names that Foundation does not.
        #expect(throws: ValidationError.self) { try teams[1].calendar() }
    }

    @Test func lastRunsAreEachTeamsNewest() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        let rail = try ScanTest.addTeam(db, "rail", scanIn: 0, createdAgo: 0)
        let sea = try ScanTest.addTeam(db, "sea", scanIn: 0, createdAgo: 0)
        _ = try ScanTest.addTeam(db, "air", scanIn: 0, createdAgo: 0)
        try db.query("""
            insert into conveyor.scan_runs (team_id, trigger, local_date, started_at, finished_at, outcome) values
                ($1, 'schedule', '2026-06-02', '2026-06-02 02:00Z', '2026-06-02 02:01Z', '{"scanned": 1}'),
                ($1, 'manual', null, '2026-06-02 09:00Z', '2026-06-02 09:00:05Z', '{"scanned": 2}'),
                ($2, 'schedule', '2026-06-01', '2026-06-01 02:00Z', '2026-06-01 02:00:03Z', '{"scanned": 3}')
            """, [rail.id, sea.id])
        let runs = try ServerStore.status(db).lastScanRuns
        #expect(runs.count == 2)
        #expect(runs[rail.id] == ScanRun(
            trigger: "manual", startedAt: ISO8601.parse("2026-06-02T09:00:00Z")!,
            finishedAt: ISO8601.parse("2026-06-02T09:00:05Z")!, outcome: #"{"scanned": 2}"#))
        #expect(runs[sea.id]?.outcome == #"{"scanned": 3}"#)
    }
}
