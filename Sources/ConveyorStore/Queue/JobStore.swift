import ConveyorCore
import ConveyorPostgres
import Foundation

/// The work queue's named operations (SQL in `SQL/queries/queue.sql`).
public enum JobStore {
    /// Planner settings for a worker's connection (see `tune_worker_session`).
    public static func tuneWorkerSession(_ connection: PostgresConnection) throws {
        try connection.query(Queries.tuneWorkerSession)
    }

    static func claim(_ connection: PostgresConnection, limit: Int) throws -> [ClaimedJob] {
        try connection.query(Queries.claimJobs, [limit]).map { row in
            ClaimedJob(
                id: try row["id"].int64(),
                kind: try row["kind"].string(),
                payload: try row["payload"].string(),
                attempts: try row["attempts"].int(),
                maxAttempts: try row["max_attempts"].int(),
                teamId: try row["team_id"].optionalInt64()
            )
        }
    }

    /// Writes every job's outcome with one statement per kind of outcome.
    static func record(
        _ results: [(ClaimedJob, JobOutcome)],
        backoff: RetryBackoff,
        jitter: () -> Double,
        on connection: PostgresConnection
    ) throws -> BatchReport {
        var report = BatchReport()
        report.claimed = results.count
        var succeeded: [Int64] = []
        var retried: (ids: [Int64], delays: [Double], errors: [String]) = ([], [], [])
        var buried: (ids: [Int64], errors: [String]) = ([], [])
        var parked: (ids: [Int64], until: [Date?], reasons: [String]) = ([], [], [])
        for (job, outcome) in results {
            switch outcome {
            case .succeeded:
                succeeded.append(job.id)
            case .retry(let error) where job.attempts + 1 >= job.maxAttempts:
                buried.ids.append(job.id)
                buried.errors.append(String(error.prefix(2000)))
            case .retry(let error):
                retried.ids.append(job.id)
                retried.delays.append(backoff.delay(afterAttempt: job.attempts + 1, random: jitter()))
                retried.errors.append(String(error.prefix(2000)))
            case .dead(let error):
                buried.ids.append(job.id)
                buried.errors.append(String(error.prefix(2000)))
            case .waiting(let until, let reason):
                parked.ids.append(job.id)
                parked.until.append(until)
                parked.reasons.append(String(reason.prefix(2000)))
            }
        }
        if !succeeded.isEmpty { try connection.query(Queries.completeJobs, [succeeded]) }
        if !retried.ids.isEmpty { try connection.query(Queries.failJobs, [retried.ids, retried.delays, retried.errors]) }
        if !buried.ids.isEmpty { try connection.query(Queries.buryJobs, [buried.ids, buried.errors]) }
        if !parked.ids.isEmpty {
            try connection.query(Queries.parkJobs, [parked.ids, parked.until, parked.reasons])
        }
        report.succeeded = succeeded.count
        report.retried = retried.ids.count
        report.dead = buried.ids.count
        report.waiting = parked.ids.count
        return report
    }
}

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

extension JobStore {
    /// Enqueues a job; with a `uniqueKey` a second enqueue returns the first job's id.
    @discardableResult
    public static func enqueue(
        _ connection: PostgresConnection,
        kind: String,
        payload: String = "{}",
        uniqueKey: String? = nil,
        priority: Int? = nil,
        runAt: Date? = nil,
        teamId: Int64? = nil,
        maxAttempts: Int? = nil
    ) throws -> Int64 {
        let parameters: [any PostgresBindable] = [kind, payload, uniqueKey, priority, runAt, teamId, maxAttempts]
        // A concurrent enqueue of the same key may not be visible to the first
        // statement's snapshot; the second sees it once committed.
        for _ in 0..<2 {
            if let row = try connection.query(Queries.enqueueJob, parameters).first { return try row["id"].int64() }
        }
        throw PostgresError(kind: .server, message: "enqueue: job with unique key \(uniqueKey ?? "") is not visible yet")
    }

    /// When the next available or retryable job is due, if any.
    public static func nextRunAt(_ connection: PostgresConnection) throws -> Date? {
        try connection.query(Queries.nextRunAt)[0]["next_run_at"].optionalDate()
    }

    /// Makes waiting jobs whose wake-up time passed available; returns how many.
    @discardableResult
    public static func wakeDueWaiting(_ connection: PostgresConnection) throws -> Int {
        try connection.query(Queries.wakeDueWaiting)[0]["woken"].int()
    }

    /// Deletes finished jobs older than `retention` seconds, `batch` rows per
    /// statement; dead jobs stay until an operator acts. Returns rows deleted.
    @discardableResult
    public static func prune(_ connection: PostgresConnection, retention: Double, batch: Int = 1000) throws -> Int {
        var total = 0
        while true {
            let deleted = try connection.query(Queries.pruneJobs, [retention, batch]).affectedRows
            total += deleted
            if deleted < batch { return total }
        }
    }

    public static func counts(_ connection: PostgresConnection) throws -> [QueueCount] {
        try connection.query(Queries.queueCounts).map { row in
            QueueCount(
                kind: try row["kind"].string(),
                state: try row["state"].string(),
                jobs: try row["jobs"].int64(),
                oldestDueSeconds: try row["oldest_due_seconds"].isNull ? nil : row["oldest_due_seconds"].double()
            )
        }
    }

    public static func list(_ connection: PostgresConnection, state: String?, limit: Int) throws -> [JobSummary] {
        try connection.query(Queries.listJobs, [state, limit, Int64?.none]).map(summary)
    }

    /// A dead, cancelled, retryable or waiting job back to available now; nil
    /// when no such job is in one of those states.
    public static func retry(_ connection: PostgresConnection, id: Int64) throws -> JobSummary? {
        try connection.query(Queries.retryJob, [id]).first.map { _ in try get(connection, id: id) }
    }

    /// Cancels a job that has not run; nil when no such job is pending.
    public static func cancel(_ connection: PostgresConnection, id: Int64) throws -> JobSummary? {
        try connection.query(Queries.cancelJob, [id]).first.map { _ in try get(connection, id: id) }
    }

    /// The job's current state, nil when there is no such job.
    public static func state(_ connection: PostgresConnection, id: Int64) throws -> String? {
        try connection.query(Queries.jobState, [id]).first?["state"].string()
    }

    private static func get(_ connection: PostgresConnection, id: Int64) throws -> JobSummary {
        try summary(connection.query(Queries.listJobs, [String?.none, 1, id])[0])
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
