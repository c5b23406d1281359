import ConveyorPostgres
import Foundation

/// A job as listed to operators.
public struct JobSummary: Sendable, Equatable, Codable {
    public let id: Int64
    public let kind: String
    public let state: String
    public let priority: Int
    public let attempts: Int
    public let maxAttempts: Int
    public let runAt: Date
    public let createdAt: Date?
    public let finishedAt: Date?
    public let lastError: String?
    public let payload: String?
    public let teamId: Int64?
}

/// Jobs per (kind, state), with the age of the oldest due one.
public struct QueueCount: Sendable, Equatable {
    public let kind: String
    public let state: String
    public let jobs: Int64
    public let oldestDueSeconds: Double?
}

extension [QueueCount] {
    /// Jobs per state, over every kind.
    public var jobsByState: [String: Int64] {
        reduce(into: [:]) { byState, count in byState[count.state, default: 0] += count.jobs }
    }
}

/// Where a job that a command waits for stands.
public enum JobResult: Sendable, Equatable {
    /// Not finished: `available` (due, or being run: a claim is a row lock,
    /// not a state) or `waiting`.
    case pending(kind: String, state: String)
    /// Succeeded; its output (JSON text) when it answered one.
    case finished(output: String?)
    /// Failed for now (`retryable`) or for good (`dead`, `cancelled`).
    case failed(kind: String, state: String, error: String?)
}

/// What operators do with the queue: counts, listings, retries and cancellations.
extension JobStore {
    /// Attempts of a job an admin command enqueues and waits for
    /// (`rep.depart`, `scan.run`): a few, so a failing one answers soon.
    public static let commandJobAttempts = 3

    public static func counts(_ connection: PostgresConnection) throws -> [QueueCount] {
        try counts(connection.query(Queries.queueCounts))
    }

    /// The rows of `Queries.queueCounts`, decoded.
    static func counts(_ rows: PostgresRows) throws -> [QueueCount] {
        try rows.map { row in
            QueueCount(
                kind: try row["kind"].string(),
                state: try row["state"].string(),
                jobs: try row["jobs"].int64(),
                oldestDueSeconds: try row["oldest_due_seconds"].isNull ? nil : row["oldest_due_seconds"].double()
            )
        }
    }

    /// The name of the team job `id` acts on; nil for a job of no team, or no such job.
    public static func teamName(_ connection: PostgresConnection, jobId id: Int64) throws -> String? {
        try connection.query(Queries.jobTeam, [id]).first?["name"].string()
    }

    public static func list(_ connection: PostgresConnection, state: String?, limit: Int) throws -> [JobSummary] {
        try connection.query(Queries.listJobs, [state, limit]).map(summary)
    }

    /// A dead, cancelled, retryable or waiting job back to available now; nil
    /// when no such job is in one of those states.
    public static func retry(_ connection: PostgresConnection, id: Int64) throws -> JobSummary? {
        try connection.query(Queries.retryJob, [id]).first.map(summary)
    }

    /// Cancels a job that has not run; nil when no such job is pending.
    public static func cancel(_ connection: PostgresConnection, id: Int64) throws -> JobSummary? {
        try connection.query(Queries.cancelJob, [id]).first.map(summary)
    }

    /// What `job.retry` and `job.cancel` do to a job.
    public enum Change: Sendable {
        case retry, cancel
    }

    /// Applies `change` and returns the job; `notFound` when there is no
    /// such job, `conflict` when its state does not allow the change.
    public static func apply(_ change: Change, toJob id: Int64, on connection: PostgresConnection) throws -> JobSummary {
        let (job, allowed) = switch change {
        case .retry: (try retry(connection, id: id), "dead, cancelled, retryable or waiting")
        case .cancel: (try cancel(connection, id: id), "available, retryable or waiting")
        }
        return try StoreRefusal.stateChange(job, noun: "job", id: id, allowed: allowed) { try state(connection, id: id) }
    }

    /// Where job `id` stands, for a command that waits for it; `notFound`
    /// when there is no such job (pruned, or never enqueued).
    public static func result(_ connection: PostgresConnection, id: Int64) throws -> JobResult {
        let row = try StoreRefusal.required(try connection.query(Queries.jobResult, [id]).first, "no job \(id)")
        let kind = try row["kind"].string()
        switch try row["state"].string() {
        case "succeeded":
            return .finished(output: try row["output"].optionalString())
        case let state where ["retryable", "dead", "cancelled"].contains(state):
            return .failed(kind: kind, state: state, error: try row["last_error"].optionalString())
        case let state:
            return .pending(kind: kind, state: state)
        }
    }

    /// The job's current state, nil when there is no such job.
    public static func state(_ connection: PostgresConnection, id: Int64) throws -> String? {
        try connection.query(Queries.jobState, [id]).first?["state"].string()
    }

    private static func summary(_ row: PostgresRow) throws -> JobSummary {
        JobSummary(
            id: try row["id"].int64(),
            kind: try row["kind"].string(),
            state: try row["state"].string(),
            priority: try row["priority"].int(),
            attempts: try row["attempts"].int(),
            maxAttempts: try row["max_attempts"].int(),
            runAt: try row["run_at"].date(),
            createdAt: try row["created_at"].optionalDate(),
            finishedAt: try row["finished_at"].optionalDate(),
            lastError: try row["last_error"].optionalString(),
            payload: try row["payload"].optionalString(),
            teamId: try row["team_id"].optionalInt64()
        )
    }
}
