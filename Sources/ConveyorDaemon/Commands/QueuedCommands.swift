import ConveyorProtocol
import ConveyorStore

/// Admin commands whose work runs as a job of the work queue rather than on
/// the admin socket's database connections: `scan.run` (a `scan` job on the
/// long lane, like the nightly ones) and `rep.depart` (a `depart` job in its
/// team's routing batch). The command enqueues the job and waits for it,
/// with a progress event every second, then answers with the job's output;
/// a crash mid-job rolls it back and a worker runs it again.
enum QueuedCommands {
    /// How often a command looks whether its job finished.
    static let pollInterval: Duration = .milliseconds(50)

    static func handlers(_ context: DaemonContext) -> [String: ProgressHandler] {
        let database = context.database
        return [
            "scan.run": { args, _, progress in
                let team = try args.string("team")
                let digest = try args.optionalBool("digest") ?? false
                let jobId = try await database.run { try AttachmentScan.requestManual($0, team: team, digest: digest) }
                return try await answering {
                    guard var result = try await output(ofJob: jobId, context, progress)?.objectValue else {
                        throw ProtocolError(.internal, "scan job \(jobId) finished without its outcome (was it run by an older conveyord?)")
                    }
                    result["job_id"] = .int(jobId)
                    return .object(result)
                }
            },
            "rep.depart": { args, _, progress in
                let (team, ref) = (try args.string("team"), try args.string("ref"))
                let jobId = try await database.run { try Reassignment.requestDeparture($0, team: team, ref: ref) }
                return try await answering {
                    guard let moves = try await output(ofJob: jobId, context, progress) else {
                        throw ProtocolError(.internal, "depart job \(jobId) finished without its redistribution")
                    }
                    return ["redistribution": moves, "job_id": .int(jobId)]
                }
            },
        ]
    }

    /// Waits until job `jobId` finishes and returns its output (`nil`: it
    /// answered none); a failed job is `internal`, saying whether it will be
    /// retried. While it waits it sends `{"job":{"id":…,"kind":…,"state":…,"waited_ms":…}}`
    /// every second, `"draining":true` included while this daemon claims no
    /// jobs. It stops waiting, and the job goes on, when the client has gone
    /// (its event cannot be sent) or the daemon shuts down: then it answers
    /// `{"job_id":…,"finished":false,"state":…}`.
    private static func output(
        ofJob jobId: Int64, _ context: DaemonContext, _ progress: @escaping @Sendable (JSONValue) async throws -> Void
    ) async throws -> JSONValue? {
        var ticker = ProgressTicker()
        while true {
            switch try await context.database.run({ try JobStore.result($0, id: jobId) }) {
            case .finished(let output):
                return try output.map { try JSONValue(parsing: $0) }
            case .failed(let kind, let state, let error):
                let retried = state == "retryable" ? "; it will be retried (job.list shows it)" : ""
                throw ProtocolError(.internal, "\(kind) job \(jobId) \(state): \(error ?? "no error recorded")\(retried)")
            case .pending(let kind, let state):
                let unfinished: JSONValue = ["job_id": .int(jobId), "finished": false, "state": .string(state)]
                if context.shutdown.isShuttingDown { throw Unfinished(answer: unfinished) }
                if ticker.eventDue() {
                    var job: [String: JSONValue] = [
                        "id": .int(jobId), "kind": .string(kind), "state": .string(state), "waited_ms": ticker.waitedMilliseconds,
                    ]
                    if context.workers.isDraining { job["draining"] = true }
                    do {
                        try await progress(["job": .object(job)])
                    } catch {
                        throw Unfinished(answer: unfinished)
                    }
                }
                try await Task.sleep(for: pollInterval)
            }
        }
    }

    /// The command stopped waiting for its job, which goes on: `answer` says where it stands.
    struct Unfinished: Error {
        let answer: JSONValue
    }

    /// Runs `body`, answering `Unfinished`'s answer when it stopped waiting.
    private static func answering(_ body: () async throws -> JSONValue) async throws -> JSONValue {
        do {
            return try await body()
        } catch let unfinished as Unfinished {
            return unfinished.answer
        }
    }
}
