import ConveyorCore
import ConveyorPostgres
import Foundation

/// The work queue's named operations (SQL in `SQL/queries/queue.sql`).
public enum JobStore {
    /// The channel a commit that makes jobs due notifies (see `SQL/003_queue_triggers.sql`).
    public static let channel = "conveyor_jobs"

    /// Planner settings for a worker's connection (see `tune_worker_session`).
    public static func tuneWorkerSession(_ connection: PostgresConnection) throws {
        try connection.query(Queries.tuneWorkerSession)
    }

    static func claim(_ connection: PostgresConnection, limit: Int, lane: JobLane) throws -> [ClaimedJob] {
        let query = switch lane {
        case .routine: Queries.claimJobs
        case .long: Queries.claimLongJobs
        }
        return try connection.query(query, [limit]).map { row in
            ClaimedJob(
                id: try row["id"].int64(),
                kind: try row["kind"].string(),
                payload: try row["payload"].string(),
                attempts: try row["attempts"].int(),
                maxAttempts: try row["max_attempts"].int(),
                teamId: try row["team_id"].optionalInt64(),
                dueSeconds: try row["due_seconds"].double(),
                ageSeconds: try row["age_seconds"].double()
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
        var outputs: (ids: [Int64], outputs: [String]) = ([], [])
        var retried: (ids: [Int64], delays: [Double], errors: [String]) = ([], [], [])
        var buried: (ids: [Int64], errors: [String]) = ([], [])
        var parked: (ids: [Int64], until: [Date?], reasons: [String]) = ([], [], [])
        for (job, outcome) in results {
            report.timings.append(JobTiming(kind: job.kind, succeeded: outcome.isSuccess, dueSeconds: job.dueSeconds, ageSeconds: job.ageSeconds))
            switch outcome {
            case .succeeded:
                succeeded.append(job.id)
            case .completed(let output):
                succeeded.append(job.id)
                outputs.ids.append(job.id)
                outputs.outputs.append(output)
            case .retry(let error) where job.attempts + 1 >= job.maxAttempts:
                buried.ids.append(job.id)
                buried.errors.append(String(error.prefix(2000)))
                report.buried.append(BuriedJob(id: job.id, kind: job.kind, teamId: job.teamId, error: "out of attempts: \(error.prefix(2000))"))
            case .retry(let error):
                retried.ids.append(job.id)
                retried.delays.append(backoff.delay(afterAttempt: job.attempts + 1, random: jitter()))
                retried.errors.append(String(error.prefix(2000)))
            case .dead(let error):
                buried.ids.append(job.id)
                buried.errors.append(String(error.prefix(2000)))
                report.buried.append(BuriedJob(id: job.id, kind: job.kind, teamId: job.teamId, error: String(error.prefix(2000))))
            case .waiting(let until, let reason):
                parked.ids.append(job.id)
                parked.until.append(until)
                parked.reasons.append(String(reason.prefix(2000)))
            }
        }
        if !succeeded.isEmpty { try connection.query(Queries.completeJobs, [succeeded]) }
        if !outputs.ids.isEmpty { try connection.query(Queries.setJobOutputs, [outputs.ids, outputs.outputs]) }
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
}
