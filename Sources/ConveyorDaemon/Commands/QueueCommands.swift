import ConveyorCore
import ConveyorProtocol
import ConveyorStore
import Foundation

/// queue.stats, job.list, job.retry, job.cancel.
enum QueueCommands {
    static let states = ["available", "running", "waiting", "succeeded", "retryable", "dead", "cancelled"]

    /// The team each command acts on, for operators of some teams only.
    static func teamLookups(_ context: DaemonContext) -> [String: TeamLookup] {
        let lookup = teamOfID(context.database) { try JobStore.teamName($0, jobId: $1) }
        return ["job.retry": lookup, "job.cancel": lookup]
    }

    static func handlers(_ context: DaemonContext) -> [String: CommandHandler] {
        let database = context.database
        return [
            "queue.stats": { _, _ in
                let counts = try await database.run { try JobStore.counts($0) }
                let oldestDue = counts
                    .filter { ["available", "retryable"].contains($0.state) }
                    .compactMap(\.oldestDueSeconds).max()
                return [
                    "by_state": .object(counts.jobsByState.mapValues(JSONValue.int)),
                    "oldest_due_seconds": oldestDue.map(JSONValue.double) ?? .null,
                    "counts": .array(counts.map { count in
                        [
                            "kind": .string(count.kind), "state": .string(count.state), "jobs": .int(count.jobs),
                            "oldest_due_seconds": count.oldestDueSeconds.map(JSONValue.double) ?? .null,
                        ]
                    }),
                ]
            },
            "job.list": { args, _ in
                let state = try args.optionalString("state", oneOf: states)
                let jobs = try await database.run { try JobStore.list($0, state: state, limit: 100) }
                return ["jobs": .array(jobs.map(encode))]
            },
            "job.retry": { args, _ in
                let id = try args.int("id", in: 1...Int64.max)
                return ["job": encode(try await database.run { try JobStore.apply(.retry, toJob: id, on: $0) })]
            },
            "job.cancel": { args, _ in
                let id = try args.int("id", in: 1...Int64.max)
                return ["job": encode(try await database.run { try JobStore.apply(.cancel, toJob: id, on: $0) })]
            },
        ]
    }

    static func encode(_ job: JobSummary) -> JSONValue {
        [
            "id": .int(job.id), "kind": .string(job.kind), "state": .string(job.state),
            "attempts": .int(Int64(job.attempts)), "max_attempts": .int(Int64(job.maxAttempts)),
            "run_at": .string(ISO8601.string(job.runAt)),
            "last_error": job.lastError.map(JSONValue.string) ?? .null,
            "team_id": job.teamId.map(JSONValue.int) ?? .null,
        ]
    }
}
