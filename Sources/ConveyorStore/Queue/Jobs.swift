import ConveyorPostgres
import Foundation

/// A job locked by the current transaction.
public struct ClaimedJob: Sendable, Equatable {
    public let id: Int64
    public let kind: String
    /// The payload as JSON text.
    public let payload: String
    /// Attempts made before this one.
    public let attempts: Int
    public let maxAttempts: Int
    public let teamId: Int64?
    /// Seconds it had been due when claimed, and since it was enqueued.
    public var dueSeconds = 0.0
    public var ageSeconds = 0.0

    /// Decodes the payload; a malformed payload is `JobFailure.permanent`.
    public func decodePayload<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(payload.utf8))
        } catch {
            throw JobFailure.permanent("malformed \(kind) payload \(payload.prefix(200)): \(error)")
        }
    }
}

extension [ClaimedJob] {
    /// Every job's decoded payload, or the error `decodePayload` gives for it.
    /// Well-formed batches take one decoder pass instead of one per job.
    public func decodePayloads<T: Decodable>(_ type: T.Type) -> [(job: ClaimedJob, payload: Result<T, any Error>)] {
        let joined = "[" + map(\.payload).joined(separator: ",") + "]"
        if let all = try? JSONDecoder().decode([T].self, from: Data(joined.utf8)), all.count == count {
            return zip(self, all).map { ($0, .success($1)) }
        }
        return map { job in (job, Result { try job.decodePayload(T.self) }) }
    }
}

/// Which jobs a worker claims. Scans and webhook deliveries run for seconds
/// or an HTTP timeout: they have a lane of their own (`claim_long_jobs` in
/// `SQL/queries/queue.sql` names their kinds), one job per batch, so a
/// handoff never waits behind them.
public enum JobLane: String, Sendable, CaseIterable {
    case routine, long
}

/// What became of one job in a batch.
public enum JobOutcome: Sendable, Equatable {
    /// Done: its effects commit with its completion.
    case succeeded
    /// Done, answering `output` (JSON text), kept on the job (`jobs.output`)
    /// for the command that waits for it.
    case completed(output: String)
    /// Failed this time; retried with backoff until out of attempts.
    case retry(error: String)
    /// Can never succeed (malformed payload, missing row): dead at once.
    case dead(error: String)
    /// Blocked until an event requeues it (or `until`, when given).
    case waiting(until: Date?, reason: String)

    var isSuccess: Bool {
        switch self {
        case .succeeded, .completed: true
        default: false
        }
    }
}

/// Thrown by a handler for a job that can never succeed, so it goes straight
/// to `dead` instead of a retry loop.
public enum JobFailure: Error, Sendable, CustomStringConvertible {
    case permanent(String)
    public var description: String {
        switch self { case .permanent(let message): message }
    }
}

/// Runs claimed jobs of one kind inside the worker's transaction.
///
/// A handler receives every claimed job of its kind in the batch, so it can
/// apply them with set-based SQL. It returns an outcome per job id; a job
/// without one succeeded. When it throws, its effects are rolled back and its
/// jobs are run again one at a time to isolate the failing one.
public protocol JobHandler: Sendable {
    var kind: String { get }
    /// False for handlers that never write: they run without a savepoint
    /// (two round trips fewer per batch), having no effects to roll back.
    var writesToDatabase: Bool { get }
    func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome]
}

extension JobHandler {
    public var writesToDatabase: Bool { true }
}
