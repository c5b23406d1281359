import ConveyorPostgres

/// Runs `scan` jobs (payload ``AttachmentScan/Job``): one team's
/// attachment scan per job, on the long lane, in the worker's transaction,
/// so its alert changes, its `scan_runs` row, its digest's delivery job and
/// the job's completion commit together or not at all; the job's output is
/// the scan's outcome. With `digest`, the
/// scan's digest goes to the team's webhook (when it has one) as a
/// `webhook` job. A crash mid-scan
/// leaves nothing behind and the job runs again; so does a scan that found
/// the same team's scan already running. A deleted team's job is dead.
public struct ScanHandler: JobHandler {
    public let kind = AttachmentScan.jobKind
    public init() {}

    public func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
        var outcomes: [Int64: JobOutcome] = [:]
        for (job, payload) in jobs.decodePayloads(AttachmentScan.Job.self) {
            switch payload {
            case .failure(let error):
                outcomes[job.id] = .dead(error: "\(error)")
            case .success(let scan):
                do {
                    let outcome = try AttachmentScan.run(connection, scan, jobId: job.id)
                    if scan.digest {
                        _ = try WebhookStore.enqueueDigest(
                            connection, teamId: scan.teamId,
                            body: try AttachmentScan.digest(connection, teamId: scan.teamId, outcome: outcome))
                    }
                    outcomes[job.id] = .completed(output: outcome)
                } catch let error as PostgresError where error.code == .noDataFound {
                    throw JobFailure.permanent(error.message)
                }
            }
        }
        return outcomes
    }
}
