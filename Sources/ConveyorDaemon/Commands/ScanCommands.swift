import ConveyorProtocol
import ConveyorStore

/// scan.run: a team's attachment scan now, run by the work queue's long
/// lane like the nightly ones (so a crash mid-scan is retried), answered
/// with its outcome once it committed.
enum ScanCommands {
    /// How often `scan.run` looks whether its scan finished.
    static let pollInterval: Duration = .milliseconds(50)

    static func handlers(_ context: DaemonContext) -> [String: CommandHandler] {
        let database = context.database
        return [
            "scan.run": { args, _ in
                let team = try args.string("team")
                let digest = try args.optionalBool("digest") ?? false
                let jobId = try await database.run { try AttachmentScan.requestManual($0, team: team, digest: digest) }
                while true {
                    switch try await database.run({ try AttachmentScan.result($0, jobId: jobId) }) {
                    case .pending:
                        try await Task.sleep(for: pollInterval)
                    case .finished(let outcome):
                        var result = try JSONValue(parsing: outcome).objectValue ?? [:]
                        result["job_id"] = .int(jobId)
                        return .object(result)
                    case .failed(let state, let error):
                        let retried = state == "retryable" ? "; it will be retried (job.list shows it)" : ""
                        throw ProtocolError(.internal, "scan job \(jobId) \(state): \(error ?? "no error recorded")\(retried)")
                    }
                }
            },
        ]
    }
}
