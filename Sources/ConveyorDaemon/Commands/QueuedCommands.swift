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
    /// How often it tells the client it is still waiting.
    static let progressInterval: Duration = .seconds(1)

    static func handlers(_ context: DaemonContext) -> [String: ProgressHandler] {
        let database = context.database
        return [
            "scan.run": { args, _, progress in
                let team = try args.string("team")
                let digest = try args.optionalBool("digest") ?? false
                let jobId = try await database.run { try AttachmentScan.requestManual($0, team: team, digest: digest) }
                var result = try await output(ofJob: jobId, context, progress).objectValue ?? [:]
                result["job_id"] = .int(jobId)
                return .object(result)
            },
            "rep.depart": { args, _, progress in
                let (team, ref) = (try args.string("team"), try args.string("ref"))
                let jobId = try await database.run { try Reassignment.requestDeparture($0, team: team, ref: ref) }
                return ["redistribution": try await output(ofJob: jobId, context, progress), "job_id": .int(jobId)]
            },
        ]
    }

    /// Waits until job `jobId` finishes and returns its output; a failed job
    /// is `internal`, saying whether it will be retried. While it waits it
    /// sends `{"job":{"id":…,"kind":…,"state":…,"waited_ms":…}}` every second,
    /// `"draining":true` included while this daemon claims no jobs.
    private static func output(
        ofJob jobId: Int64, _ context: DaemonContext, _ progress: @escaping @Sendable (JSONValue) async throws -> Void
    ) async throws -> JSONValue {
        let clock = ContinuousClock()
        let started = clock.now
        var reported = started
        while true {
            switch try await context.database.run({ try JobStore.result($0, id: jobId) }) {
            case .finished(let output):
                return try output.map { try JSONValue(parsing: $0) } ?? .null
            case .failed(let kind, let state, let error):
                let retried = state == "retryable" ? "; it will be retried (job.list shows it)" : ""
                throw ProtocolError(.internal, "\(kind) job \(jobId) \(state): \(error ?? "no error recorded")\(retried)")
            case .pending(let kind, let state):
                if clock.now - reported >= progressInterval {
                    reported = clock.now
                    var job: [String: JSONValue] = [
                        "id": .int(jobId), "kind": .string(kind), "state": .string(state),
                        "waited_ms": .int(Int64((clock.now - started) / .milliseconds(1))),
                    ]
                    if context.workers.isDraining { job["draining"] = true }
                    // A client that went away does not stop the job.
                    try? await progress(["job": .object(job)])
                }
                try await Task.sleep(for: pollInterval)
            }
        }
    }
}
