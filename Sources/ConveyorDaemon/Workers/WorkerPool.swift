import ConveyorPostgres
import ConveyorStore
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization

/// The queue's workers: one thread per processor, each owning one
/// PostgreSQL connection, claiming and running batches of its processor's
/// lane until shutdown.
///
/// libpq blocks, so each worker is a plain thread (never Swift's cooperative
/// pool). Idle workers wait on LISTEN `conveyor_jobs` with a slow fallback
/// poll and wake for the next scheduled job. On graceful shutdown they stop
/// claiming, let the batch in flight commit, and close their connections.
public final class WorkerPool: Service, @unchecked Sendable {
    /// Worker states reported by `status`.
    public enum Phase: String, Sendable { case starting, connected, reconnecting, draining, stopped }

    private let processors: [JobProcessor]
    private let conninfo: String?
    private let pollInterval: Double
    private let logger: Logger
    private let watch: (@Sendable (ConnectionLiveness) -> Void)?
    private let pipes: [WakePipe]
    private let stopping = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)
    /// Each worker's phase, its connection's waits for the server, and when
    /// the batch it runs now began; `drain()` sets `draining` under the same
    /// lock, so no batch starts after it returns.
    private let workerStates: Mutex<[WorkerState]>

    private struct WorkerState {
        var phase = Phase.starting
        var waits: ServerWaits?
        var batchBegan: ContinuousClock.Instant?
    }
    private let processed = Counter(label: "conveyor_jobs_processed_total")
    private let failed = Counter(label: "conveyor_jobs_failed_total")
    private let batches = Counter(label: "conveyor_job_batches_total")
    private let timers = JobTimers()

    /// `watch` is given each connection a worker opens (a watchdog that cuts dead ones).
    public init(
        processors: [JobProcessor], conninfo: String?, pollInterval: Double, logger: Logger,
        watch: (@Sendable (ConnectionLiveness) -> Void)? = nil
    ) {
        self.processors = processors
        self.conninfo = conninfo
        self.pollInterval = pollInterval
        self.logger = logger
        self.watch = watch
        pipes = processors.map { _ in WakePipe() }
        workerStates = Mutex(Array(repeating: WorkerState(), count: processors.count))
    }

    /// The current phase of each worker of `lane`.
    public func phases(_ lane: JobLane) -> [Phase] {
        let all = workerStates.withLock { $0 }
        return processors.indices.filter { processors[$0].lane == lane }.map { all[$0].phase }
    }
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// How many workers are running a batch (whose transaction has not ended yet).
    public var batchesInFlight: Int { workerStates.withLock { $0.count { $0.batchBegan != nil } } }

    /// True once every worker has connected to PostgreSQL (at least once).
    public var everyWorkerConnected: Bool { workerStates.withLock { $0.allSatisfy { $0.waits != nil } } }

    /// The workers stuck in a batch outside any call to PostgreSQL for longer
    /// than `limit`: wedged in our own code (a wait for the database, however
    /// long, is not counted; the daemon survives those).
    public func wedgedWorkers(limit: Duration) -> [Int] {
        let now = ContinuousClock.now
        return workerStates.withLock { states in
            states.indices.filter { index in
                // A worker connects (and has its waits) before its first batch.
                guard let began = states[index].batchBegan, let wait = states[index].waits?.state else { return false }
                return !wait.waiting && now - max(began, wait.since) > limit
            }
        }
    }

    /// Stops claiming new batches (in-flight batches commit; `batchesInFlight`
    /// counts them down); `resume()` undoes it.
    public func drain() {
        workerStates.withLock { _ in draining.store(true, ordering: .relaxed) }
        pipes.forEach { $0.signal() }
    }

    public func resume() {
        draining.store(false, ordering: .relaxed)
        pipes.forEach { $0.signal() }
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in processors.indices {
                    group.addTask { await self.runThread(index) }
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
            self.pipes.forEach { $0.signal() }
        }
    }

    private func runThread(_ index: Int) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                work(index)
                setPhase(index, .stopped)
                done.resume()
            }
            thread.name = "conveyor-worker-\(index)"
            thread.start()
        }
    }

    private func setPhase(_ index: Int, _ phase: Phase) {
        workerStates.withLock { $0[index].phase = phase }
    }

    private var shouldStop: Bool { stopping.load(ordering: .relaxed) }

    /// The worker loop: connect (with backoff), run batches, wait when idle.
    private func work(_ index: Int) {
        let pipe = pipes[index]
        var logger = self.logger
        logger[metadataKey: "worker"] = "\(index)"
        logger[metadataKey: "lane"] = "\(processors[index].lane)"
        var connection: PostgresConnection?
        var failures = 0
        let backoff = ReconnectBackoff()
        while !shouldStop {
            pipe.drain()
            if isDraining {
                setPhase(index, .draining)
                pipe.sleep(pollInterval)
                continue
            }
            if connection != nil { setPhase(index, .connected) }
            guard let current = connection, !current.isBroken else {
                connection = nil
                do {
                    let fresh = try PostgresConnection(conninfo: conninfo, applicationName: "conveyord-worker")
                    watch?(fresh.liveness)
                    try fresh.listen(JobStore.channel)
                    try JobStore.tuneWorkerSession(fresh)
                    connection = fresh
                    workerStates.withLock { $0[index].waits = fresh.waits }
                    if failures > 0 { logger.notice("worker reconnected to PostgreSQL", metadata: ["attempts": "\(failures)"]) }
                    failures = 0
                    setPhase(index, .connected)
                } catch {
                    failures += 1
                    setPhase(index, .reconnecting)
                    let delay = backoff.delay(attempt: failures)
                    logger.warning("worker cannot reach PostgreSQL; retrying", metadata: [
                        "error": "\(error)", "retry_in_seconds": "\(delay)", "attempt": "\(failures)",
                    ])
                    pipe.sleep(delay)
                }
                continue
            }
            do {
                try runUntilIdle(index, current, processor: processors[index], pipe: pipe)
            } catch let error as PostgresError where error.isConnectionLoss || current.isBroken {
                logger.warning("worker lost its PostgreSQL connection", metadata: ["error": "\(error)"])
                connection = nil
                setPhase(index, .reconnecting)
            } catch {
                logger.error("worker batch failed; its transaction rolled back", metadata: ["error": "\(error)"])
                pipe.sleep(1)
            }
        }
    }

    /// Runs batches while work is due, then waits for a notification, the
    /// next scheduled job, the fallback poll or a wake-up.
    private func runUntilIdle(_ index: Int, _ connection: PostgresConnection, processor: JobProcessor, pipe: WakePipe) throws {
        while !shouldStop, let report = try runBatch(index, processor: processor, on: connection) {
            guard report.claimed > 0 else { break }
            batches.increment()
            processed.increment(by: report.claimed)
            failed.increment(by: report.retried + report.dead)
            for job in report.buried {
                logger.error("job failed for good; it stays dead until job.retry", metadata: [
                    "job": "\(job.id)", "kind": "\(job.kind)", "team_id": "\(job.teamId.map(String.init) ?? "none")",
                    "error": "\(job.error)",
                ])
            }
        }
        guard !shouldStop && !isDraining else { return }
        var timeout = pollInterval
        if let next = try JobStore.nextRunAt(connection) {
            timeout = min(timeout, max(0, next.timeIntervalSinceNow))
        }
        if timeout > 0 {
            _ = try connection.waitForNotifications(timeout: timeout, wakeDescriptor: pipe.readDescriptor)
        } else {
            // Only a waiting job's wake-up time (an away manager's return) can be due here.
            try JobStore.wakeDueWaiting(connection)
        }
    }

    /// One batch of `processor`, unless the pool is draining (`nil`).
    private func runBatch(_ index: Int, processor: JobProcessor, on connection: PostgresConnection) throws -> BatchReport? {
        let started = workerStates.withLock { states in
            guard !isDraining else { return false }
            states[index].batchBegan = .now
            return true
        }
        guard started else { return nil }
        defer { workerStates.withLock { $0[index].batchBegan = nil } }
        let clock = ContinuousClock()
        let began = clock.now
        let report = try processor.runBatch(on: connection)
        timers.record(report.timings, batchSeconds: Double((clock.now - began) / .microseconds(1)) / 1e6)
        return report
    }
}

/// The queue's latency histograms, by job kind: how long a job waited once
/// due until a worker claimed it (`conveyor_job_wait_seconds`), and from
/// enqueue to the commit that finished it (`conveyor_job_latency_seconds`;
/// for `handoff` jobs, win to handoff).
final class JobTimers: Sendable {
    static let waitLabel = "conveyor_job_wait_seconds"
    static let latencyLabel = "conveyor_job_latency_seconds"
    /// Buckets fine enough for handoffs (milliseconds) and wide enough for scans.
    static let buckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300),
    ]

    private let byKind = Mutex<[String: (wait: Timer, latency: Timer)]>([:])

    /// Gives the factory our buckets for these histograms.
    static func configure(_ factory: inout PrometheusMetricsFactory) {
        factory.durationHistogramBuckets[waitLabel] = buckets
        factory.durationHistogramBuckets[latencyLabel] = buckets
    }

    /// Records a committed batch's jobs; each finished job's latency counts the batch's own time.
    func record(_ timings: [JobTiming], batchSeconds: Double) {
        for timing in timings {
            let (wait, latency) = timers(timing.kind)
            wait.recordSeconds(timing.dueSeconds)
            if timing.succeeded { latency.recordSeconds(timing.ageSeconds + batchSeconds) }
        }
    }

    private func timers(_ kind: String) -> (wait: Timer, latency: Timer) {
        byKind.withLock { timers in
            if let known = timers[kind] { return known }
            let made = (
                Timer(label: Self.waitLabel, dimensions: [("kind", kind)]),
                Timer(label: Self.latencyLabel, dimensions: [("kind", kind)])
            )
            timers[kind] = made
            return made
        }
    }
}
