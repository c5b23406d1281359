import ConveyorCore
import ConveyorPostgres
import ConveyorStore
import Dispatch
import Synchronization

/// Runs `webhook` jobs (enqueued by `WebhookStore.enqueueDigest` after a
/// team's nightly scan): reads each team's webhook as it is now and POSTs
/// the job's body there, signed; the batch's deliveries go out at once and
/// the worker's thread waits for them (workers are plain threads, never
/// Swift's cooperative pool).
///
/// A team that no longer exists, or has no webhook_url or webhook_secret any
/// more, is dead at once (`job.retry` once it is set again); a failed attempt
/// is retried with the queue's backoff until `max_attempts`, then dead.
struct WebhookHandler: JobHandler {
    let kind = WebhookStore.kind
    /// It only reads: no savepoint. Nor does it throw once it has POSTed, so
    /// its batch is never rerun job by job, which would deliver twice.
    let writesToDatabase = false
    let poster: WebhookPoster

    func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
        var outcomes: [Int64: JobOutcome] = [:]
        var payloads: [(job: ClaimedJob, payload: WebhookPayload)] = []
        for (job, payload) in jobs.decodePayloads(WebhookPayload.self) {
            switch payload {
            case .success(let payload): payloads.append((job, payload))
            case .failure(let error): outcomes[job.id] = .dead(error: "\(error)")
            }
        }
        let targets = try WebhookStore.targets(connection, teamIds: Array(Set(payloads.map(\.payload.teamId))))
        var deliveries: [WebhookDelivery] = []
        for (job, payload) in payloads {
            guard let target = targets[payload.teamId] else {
                outcomes[job.id] = .dead(error: "team \(payload.teamId) no longer exists")
                continue
            }
            guard let url = target.url else {
                outcomes[job.id] = .dead(error: "team \(Quoting.excerpt(target.teamName)) has no webhook_url any more (removed since this digest was queued)")
                continue
            }
            guard let secret = target.secret else {
                outcomes[job.id] = .dead(error: "team \(Quoting.excerpt(target.teamName)) has no webhook_secret to sign with: set one with team.update")
                continue
            }
            deliveries.append(WebhookDelivery(jobId: job.id, url: url, secret: secret, body: payload.body))
        }
        guard !deliveries.isEmpty else { return outcomes }
        let (poster, due) = (self.poster, deliveries)
        return outcomes.merging(Self.wait { await poster.post(due) }) { _, delivered in delivered }
    }

    /// Blocks the calling (non-cooperative) thread until `work` is done.
    private static func wait<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let value = await work()
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }
}
