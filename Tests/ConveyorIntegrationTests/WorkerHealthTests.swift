import ConveyorDaemon
import ConveyorPostgres
import ConveyorStore
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// What the systemd watchdog is told: a worker stuck in its own code is
/// wedged, one waiting for PostgreSQL, however long, is not. Real workers,
/// a real database, handlers of the test's own. Nothing here ends by the
/// clock: the waits last until the test lets them go, so a loaded machine
/// only makes the test slower.
@Suite struct WorkerHealthTests {
    /// Waits in the database: for an advisory lock the test holds until it lets it go.
    struct DatabaseWaitHandler: JobHandler {
        static let lock: Int64 = 4242
        let kind = "database_wait"
        func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
            try connection.query("select pg_advisory_xact_lock($1)", [Self.lock])
            return [:]
        }
    }

    /// Stuck in its own code until the test lets it go.
    struct StuckHandler: JobHandler {
        let kind = "stuck"
        let release: DispatchSemaphore
        func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
            release.wait()
            return [:]
        }
    }

    @Test func onlyAWorkerStuckOutsideTheDatabaseIsWedged() async throws {
        let conninfo = try TestPostgres.makeDatabase()
        let release = DispatchSemaphore(value: 0)
        let pool = WorkerPool(
            processors: [JobProcessor(handlers: [DatabaseWaitHandler(), StuckHandler(release: release)], batchSize: 1)],
            conninfo: conninfo, pollInterval: 0.2, logger: Logger(label: "worker-health-test"))
        let group = ServiceGroup(configuration: .init(services: [.init(service: pool)], logger: Logger(label: "worker-health-test")))
        let executor = DedicatedExecutor(name: "worker-health-test")
        defer { executor.stop() }
        let running = Task(executorPreference: executor) { try await group.run() }
        defer { release.signal() }
        let limit = Duration.seconds(1)
        /// A limit the stuck worker cannot have passed yet, however late the test looks.
        let longLimit = Duration.seconds(60)
        let connection = try TestPostgres.connect(conninfo)
        let holder = try TestPostgres.connect(conninfo)
        try holder.query("select pg_advisory_lock($1)", [DatabaseWaitHandler.lock])

        _ = try JobStore.enqueue(connection, kind: "database_wait", payload: "{}")
        #expect(eventually { pool.batchesInFlight == 1 })
        #expect(eventually {
            (try? HandoffDaemon.int(connection, "select count(*)::int from pg_locks where locktype = 'advisory' and not granted")) == 1
        }, "the batch waits for the lock")
        // Looked at past the limit while the batch still waits for the lock.
        let waiting = ContinuousClock.now
        #expect(eventually { ContinuousClock.now - waiting > limit + .milliseconds(300) })
        #expect(pool.batchesInFlight == 1, "still waiting for the lock")
        #expect(pool.wedgedWorkers(limit: limit).isEmpty, "a wait for the database is not a wedge")
        try holder.query("select pg_advisory_unlock($1)", [DatabaseWaitHandler.lock])
        #expect(eventually { pool.batchesInFlight == 0 })

        _ = try JobStore.enqueue(connection, kind: "stuck", payload: "{}")
        #expect(eventually { pool.batchesInFlight == 1 })
        #expect(pool.wedgedWorkers(limit: longLimit).isEmpty, "not before the limit")
        #expect(eventually { pool.wedgedWorkers(limit: limit) == [0] }, "stuck past the limit")
        release.signal()
        #expect(eventually { pool.batchesInFlight == 0 && pool.wedgedWorkers(limit: limit).isEmpty })

        await group.triggerGracefulShutdown()
        try await running.value
    }
}
