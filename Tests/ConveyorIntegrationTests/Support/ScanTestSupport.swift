import ConveyorPostgres
import Foundation

/// Helpers shared by the nightly scan's schedule tests (NightlyScansTests,
/// ScanSchedulerDaemonTests): teams whose scan time is a given distance from
/// now, and the schedule rows and scan jobs as the tests compare them.
enum ScanTest {
    /// A team inserted with plain SQL.
    struct Team {
        let id: Int64
        /// The local date its scan time falls on at the moment it was inserted (`YYYY-MM-DD`).
        let scanDate: String
    }

    /// Inserts a team whose `scan_local_time` is `seconds` from now (whole
    /// seconds, negative: past) in `zone`, created `createdAgo` seconds ago.
    static func addTeam(
        _ connection: PostgresConnection, _ name: String, zone: String = "Asia/Kathmandu", scanIn seconds: Double,
        createdAgo: Double
    ) throws -> Team {
        let row = try connection.query("""
            with scan as (select date_trunc('second', (now() + make_interval(secs => $3)) at time zone $2) as local)
            insert into conveyor.teams (name, time_zone, scan_local_time, created_at)
            select $1, $2, scan.local::time, now() - make_interval(secs => $4) from scan
            returning id, (select to_char(local, 'YYYY-MM-DD') from scan) as scan_date
            """, [name, zone, seconds, createdAgo])[0]
        return Team(id: try row["id"].int64(), scanDate: try row["scan_date"].string())
    }

    /// One `scan_schedule` row joined to its job.
    struct Scheduled: Equatable, CustomStringConvertible {
        let teamId: Int64
        let localDate: String
        let jobId: Int64
        /// The job's kind, team, unique key and payload (nil: no such job).
        let kind: String?
        let jobTeamId: Int64?
        let uniqueKey: String?
        let payload: String?

        var description: String {
            "team \(teamId) \(localDate) job \(jobId) (\(kind ?? "missing"), team \(jobTeamId.map(String.init) ?? "null"), "
                + "\(uniqueKey ?? "no key"), \(payload ?? ""))"
        }
    }

    /// Every schedule row, by team and date.
    static func scheduled(_ connection: PostgresConnection) throws -> [Scheduled] {
        try connection.query("""
            select s.team_id, to_char(s.local_date, 'YYYY-MM-DD') as local_date, s.job_id,
                   j.kind, j.team_id as job_team_id, j.unique_key, j.payload::text as payload
            from conveyor.scan_schedule s left join conveyor.jobs j on j.id = s.job_id
            order by s.team_id, s.local_date
            """).map { row in
            Scheduled(
                teamId: try row["team_id"].int64(), localDate: try row["local_date"].string(), jobId: try row["job_id"].int64(),
                kind: try row["kind"].optionalString(), jobTeamId: try row["job_team_id"].optionalInt64(),
                uniqueKey: try row["unique_key"].optionalString(), payload: try row["payload"].optionalString()
            )
        }
    }

    /// How many `scan` jobs there are.
    static func scanJobs(_ connection: PostgresConnection) throws -> Int {
        try connection.query("select count(*)::int from conveyor.jobs where kind = 'scan'")[0][0].int()
    }

    /// The row a correct schedule of `team`'s `date` leaves, with the job's payload as jsonb prints it.
    static func expected(_ team: Int64, _ date: String, job: Int64) -> Scheduled {
        Scheduled(
            teamId: team, localDate: date, jobId: job, kind: "scan", jobTeamId: nil, uniqueKey: "scan:\(team):\(date)",
            payload: #"{"digest": true, "team_id": \#(team), "trigger": "schedule", "local_date": "\#(date)"}"#
        )
    }
}
