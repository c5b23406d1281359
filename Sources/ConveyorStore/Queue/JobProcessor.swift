import ConveyorCore
import ConveyorPostgres
import Foundation

/// What one batch did. Two reports are equal when their counts are (timings are measurements).
public struct BatchReport: Sendable, Equatable {
    public var claimed = 0
    public var succeeded = 0
    public var retried = 0
    public var dead = 0
    public var waiting = 0
    /// One per claimed job, for the latency metrics.
    public var timings: [JobTiming] = []
    /// The jobs that went `dead` in this batch, for the log.
    public var buried: [BuriedJob] = []
    public init() {}

    public static func == (left: BatchReport, right: BatchReport) -> Bool {
        (left.claimed, left.succeeded, left.retried, left.dead, left.waiting)
            == (right.claimed, right.succeeded, right.retried, right.dead, right.waiting)
    }
}

/// A job that failed for good: it stays `dead` until `job.retry`.
public struct BuriedJob: Sendable {
    public let id: Int64
    public let kind: String
    public let teamId: Int64?
    public let error: String
}

/// How long a claimed job had been due and had existed when its batch claimed it.
public struct JobTiming: Sendable {
    public let kind: String
    public let succeeded: Bool
    public let dueSeconds: Double
    public let ageSeconds: Double
}

/// Claims a batch of due jobs and runs them in one transaction: the claim
/// (`FOR UPDATE SKIP LOCKED`), every job's effects and every job's
/// completion commit together, so a crash anywhere rolls all of it back and
/// another worker takes the jobs. Nothing is ever done twice.
///
/// Handlers see all jobs of their kind at once (set-based work); a handler
/// that throws is rolled back to a savepoint and its jobs are rerun one by
/// one, so one poison job fails alone and the rest of the batch commits.
public struct JobProcessor: Sendable {
    public let handlers: [String: any JobHandler]
    public let lane: JobLane
    /// Jobs per batch.
    public let batchSize: Int
    public let backoff: RetryBackoff
    /// Returns a value in 0..<1 for retry jitter (injectable for tests).
    public let jitter: @Sendable () -> Double

    public init(
        handlers: [any JobHandler],
        lane: JobLane = .routine,
        batchSize: Int = 1000,
        backoff: RetryBackoff = RetryBackoff(),
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.handlers = Dictionary(handlers.map { ($0.kind, $0) }, uniquingKeysWith: { _, last in last })
        self.lane = lane
        self.batchSize = batchSize
        self.backoff = backoff
        self.jitter = jitter
    }

    /// Runs one batch; a report with `claimed == 0` means nothing was due.
    public func runBatch(on connection: PostgresConnection) throws -> BatchReport {
        try connection.transaction {
            let jobs = try JobStore.claim(connection, limit: batchSize, lane: lane)
            guard !jobs.isEmpty else { return BatchReport() }
            var outcomes: [Int64: JobOutcome] = [:]
            for (kind, group) in Self.groupedByKind(jobs) {
                guard let handler = handlers[kind] else {
                    for job in group { outcomes[job.id] = .dead(error: "no handler for job kind \"\(kind)\"") }
                    continue
                }
                outcomes.merge(try run(handler, group, on: connection)) { _, new in new }
            }
            return try JobStore.record(jobs.map { ($0, outcomes[$0.id] ?? .succeeded) }, backoff: backoff, jitter: jitter, on: connection)
        }
    }

    private func run(_ handler: any JobHandler, _ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
        func isolated<T>(_ name: String, _ body: () throws -> T) throws -> T {
            handler.writesToDatabase ? try connection.savepoint(name, body) : try body()
        }
        do {
            return try isolated("job_batch") { try handler.handle(jobs, on: connection) }
        } catch let error where !Self.isFatal(error, connection) {
            guard jobs.count > 1 else { return [jobs[0].id: Self.outcome(for: error)] }
        }
        var outcomes: [Int64: JobOutcome] = [:]
        for job in jobs {
            do {
                let single = try isolated("job_single") { try handler.handle([job], on: connection) }
                outcomes[job.id] = single[job.id] ?? .succeeded
            } catch let error where !Self.isFatal(error, connection) {
                outcomes[job.id] = Self.outcome(for: error)
            }
        }
        return outcomes
    }

    /// A lost connection ends the whole transaction: nothing to isolate.
    private static func isFatal(_ error: Error, _ connection: PostgresConnection) -> Bool {
        connection.isBroken || (error as? PostgresError)?.isConnectionLoss == true
    }

    private static func outcome(for error: Error) -> JobOutcome {
        switch error {
        case let failure as JobFailure: .dead(error: failure.description)
        case let postgres as PostgresError: .retry(error: postgres.description)
        default: .retry(error: String(describing: error))
        }
    }

    /// Groups jobs by kind, kinds in order of first appearance.
    static func groupedByKind(_ jobs: [ClaimedJob]) -> [(String, [ClaimedJob])] {
        var order: [String] = []
        var groups: [String: [ClaimedJob]] = [:]
        for job in jobs {
            if groups[job.kind] == nil { order.append(job.kind) }
            groups[job.kind, default: []].append(job)
        }
        return order.map { ($0, groups[$0]!) }
    }
}
