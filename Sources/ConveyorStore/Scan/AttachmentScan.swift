import ConveyorCore
import ConveyorPostgres
import Foundation

/// The attachment-risk scan's store operations (SQL in `SQL/queries/scan.sql`;
/// the scan itself is `conveyor.scan_team`, migrations 013 and 020). A scan is a job
/// of kind `scan` on the long lane: the nightly ones are enqueued by the
/// schedule, a manual one by `scan.run`, which then waits for the job's
/// output (the outcome, see ``ScanHandler``).
public enum AttachmentScan {
    /// The job kind of a scan.
    public static let jobKind = "scan"

    /// Why a scan ran.
    public enum Trigger: String, Sendable, Codable {
        case schedule, manual
    }

    /// A `scan` job's payload. Its `team_id` is in the payload, not in the
    /// job's own column: a team-scoped job holds the team's routing lock
    /// while it runs, and a scan must never block the team's handoffs.
    public struct Job: Sendable, Codable, Equatable {
        public let teamId: Int64
        public let trigger: Trigger
        /// The scheduled local date (YYYY-MM-DD) of a nightly scan.
        public let localDate: String?
        /// Whether a digest goes to the team's webhook afterwards.
        public let digest: Bool
        enum CodingKeys: String, CodingKey {
            case teamId = "team_id", trigger, localDate = "local_date", digest
        }

        public init(teamId: Int64, trigger: Trigger, localDate: String? = nil, digest: Bool) {
            self.teamId = teamId
            self.trigger = trigger
            self.localDate = localDate
            self.digest = digest
        }

        /// The payload as JSON text.
        public var payload: String {
            String(decoding: (try? JSONEncoder().encode(self)) ?? Data("{}".utf8), as: UTF8.self)
        }
    }

    /// Enqueues a manual scan of `team` and returns its job id: `notFound`
    /// for an unknown team, `conflict` (saying when it started) while a scan
    /// of that team runs.
    public static func requestManual(_ connection: PostgresConnection, team: String, digest: Bool) throws -> Int64 {
        try connection.transaction {
            let teamId = try DirectoryStore.requireTeamId(connection, team)
            if let started = try connection.query(Queries.runningScan, [teamId])[0]["started_at"].optionalDate() {
                throw StoreRefusal.conflict(
                    "a scan of team \(Quoting.excerpt(team)) is already running (started \(ISO8601.string(started)))")
            }
            let job = Job(teamId: teamId, trigger: .manual, digest: digest)
            return try JobStore.enqueue(connection, kind: jobKind, payload: job.payload, maxAttempts: JobStore.commandJobAttempts)
        }
    }

    /// Scans the team in the caller's transaction and returns the outcome
    /// as JSON text. A scan of the same team running elsewhere makes it
    /// throw (SQLSTATE 55P03); an unknown team, P0002.
    public static func run(_ connection: PostgresConnection, _ job: Job, jobId: Int64?) throws -> String {
        try connection.query(Queries.scanOnOneCore)
        return try connection.query(Queries.scanTeam, [job.teamId, job.trigger.rawValue, job.localDate, jobId])[0]["outcome"].string()
    }

    /// The digest of the scan that just ran in this transaction, as JSON text.
    public static func digest(_ connection: PostgresConnection, teamId: Int64, outcome: String) throws -> String {
        try connection.query(Queries.attachmentDigest, [teamId, outcome])[0]["digest"].string()
    }
}
