import ConveyorCore
import ConveyorPostgres
import Foundation

/// A team as the nightly scan's scheduler sees it.
public struct ScanTeam: Sendable, Equatable {
    public let id: Int64
    public let name: String
    /// The IANA name as stored; Foundation may not know every name PostgreSQL does.
    public let timeZone: String
    /// `scan_local_time`, whole seconds.
    public let hour: Int
    public let minute: Int
    public let second: Int
    public let createdAt: Date
    /// Paused teams are not scanned at night (their handoffs wait too).
    public let paused: Bool
    /// The latest local date whose scan is scheduled; nil when none is.
    public let lastScheduled: LocalDate?

    /// The team's calendar; throws when Foundation does not know its zone.
    public func calendar() throws(ValidationError) -> ScanCalendar {
        try ScanCalendar(timeZone: timeZone, hour: hour, minute: minute, second: second)
    }
}

/// A team's newest scan run, as `status` shows it.
public struct ScanRun: Sendable, Equatable {
    /// `schedule` or `manual`.
    public let trigger: String
    public let startedAt: Date
    public let finishedAt: Date
    /// The outcome object as JSON text.
    public let outcome: String
}

/// The nightly scan's schedule (SQL in `SQL/queries/schedule.sql`): each
/// team's scan happens once per local date, however many daemons run,
/// because the database's primary key on (team, local date) decides.
public enum NightlyScans {
    /// Every team, by id.
    public static func teams(_ connection: PostgresConnection) throws -> [ScanTeam] {
        try teams(connection.query(Queries.scanScheduleTeams))
    }

    /// The rows of `Queries.scanScheduleTeams`, decoded.
    static func teams(_ rows: PostgresRows) throws -> [ScanTeam] {
        try rows.map { row in
            ScanTeam(
                id: try row["id"].int64(), name: try row["name"].string(), timeZone: try row["time_zone"].string(),
                hour: try row["scan_hour"].int(), minute: try row["scan_minute"].int(), second: try row["scan_second"].int(),
                createdAt: try row["created_at"].date(), paused: try row["paused"].bool(),
                lastScheduled: try row["last_scheduled_day"].optionalInt().map(LocalDate.init(dayNumber:))
            )
        }
    }

    /// Schedules the team's scan of `localDate`, due at `dueAt`, in one
    /// transaction: claims the date, enqueues the `scan` job (unique key
    /// `scan:<team id>:<local date>`) and records its id with the claim.
    /// Returns the job id, or nil when the date was already claimed (by
    /// another daemon, or before). The job has no `team_id`: team-scoped jobs
    /// hold the team's routing lock while they run, and a scan must not
    /// block the team's handoffs.
    public static func schedule(
        _ connection: PostgresConnection, teamId: Int64, localDate: LocalDate, dueAt: Date
    ) throws -> Int64? {
        let date = localDate.description
        return try connection.transaction {
            guard try connection.query(Queries.claimScanDate, [teamId, date, dueAt]).first != nil else { return nil }
            let payload = AttachmentScan.Job(teamId: teamId, trigger: .schedule, localDate: date, digest: true).payload
            let job = try JobStore.enqueue(connection, kind: AttachmentScan.jobKind, payload: payload, uniqueKey: "scan:\(teamId):\(date)")
            try connection.query(Queries.setScanJob, [teamId, date, job])
            return job
        }
    }

    /// Each team's newest scan run, by team id, from the rows of
    /// `Queries.lastScanRuns` (`ServerStore.status` reads them).
    static func lastRuns(_ rows: PostgresRows) throws -> [Int64: ScanRun] {
        var runs: [Int64: ScanRun] = [:]
        for row in rows {
            runs[try row["team_id"].int64()] = ScanRun(
                trigger: try row["trigger"].string(), startedAt: try row["started_at"].date(),
                finishedAt: try row["finished_at"].date(), outcome: try row["outcome"].string()
            )
        }
        return runs
    }
}
