import ConveyorPostgres
import ConveyorStore
import Foundation
import Logging
import Prometheus
import Synchronization

/// A `status` read of the database: when it began and how long it took.
struct TimedStatus: Sendable {
    let snapshot: StatusSnapshot
    let began: ContinuousClock.Instant
    let roundTrip: Duration
}

/// What the admin commands act on: the shared pieces of a running daemon.
final class DaemonContext: Sendable {
    let startedAt = Date()
    let database: ConnectionPool
    let workers: WorkerPool
    let shutdown: ShutdownTrigger
    let logControl: LogControl
    let notifier: SystemdNotifier
    /// Set once systemd was told `READY=1`: only then are reloads announced to it.
    let ready = SystemdReporter.Flag()
    /// One reload at a time, so the log settings and the running config come from the same one.
    private let reloading = Mutex(())
    let metrics: PrometheusCollectorRegistry
    let logger: Logger
    /// What `status` shows from the database, read once for the callers asking
    /// within `statusMaxAge` of each other.
    let statusRead: SharedRead<TimedStatus>
    /// A read older than this is never shown; with a 50 ms refresh ahead, a
    /// read may take 200 ms (a scan loading both cores) before pollers wait for it.
    static let statusMaxAge: Duration = .milliseconds(250)
    static let statusRefreshAfter: Duration = .milliseconds(50)
    /// `status` answers without the database's figures (`reachable` false) when
    /// a read takes longer: a dead connection never holds it up.
    static let statusPatience: Duration = .seconds(2)
    /// The database's figures for `metrics`, read at most once a second.
    let metricsRead: SharedRead<DatabaseFigures>
    private let configPath: String?
    private let environment: [String: String]
    private let running: RunningConfig

    init(
        config: DaemonConfig, configPath: String?, environment: [String: String], database: ConnectionPool,
        workers: WorkerPool, shutdown: ShutdownTrigger, logControl: LogControl, notifier: SystemdNotifier,
        metrics: PrometheusCollectorRegistry, logger: Logger
    ) {
        running = RunningConfig(config)
        self.configPath = configPath
        self.environment = environment
        self.database = database
        self.workers = workers
        self.shutdown = shutdown
        self.logControl = logControl
        self.notifier = notifier
        self.metrics = metrics
        self.logger = logger
        statusRead = SharedRead(maxAge: Self.statusMaxAge, refreshAfter: Self.statusRefreshAfter) {
            let began = ContinuousClock.now
            let snapshot = try await database.run { try ServerStore.status($0) }
            return TimedStatus(snapshot: snapshot, began: began, roundTrip: .now - began)
        }
        metricsRead = SharedRead(maxAge: .seconds(1)) { try await database.run { try DatabaseFigures.read($0) } }
    }

    /// The configuration in force (see ``RunningConfig``).
    var config: DaemonConfig { running.current }

    /// Rereads the config file and environment and puts the keys that apply
    /// at once in force, telling systemd (`RELOADING=1`, then `READY=1`);
    /// keys that differ from the running configuration and need a restart are
    /// reported. A file that does not load changes nothing.
    func reload() throws -> RunningConfig.ReloadOutcome {
        try reloading.withLock { _ in
            // Before READY systemd is still starting us, and after STOPPING it waits for the exit.
            let announce = ready.isSet && !shutdown.isShuttingDown
            if announce { notifier.reloading() }
            defer { if announce { notifier.notify("READY=1") } }
            return try reread()
        }
    }

    private func reread() throws -> RunningConfig.ReloadOutcome {
        let fresh: DaemonConfig
        do {
            fresh = try DaemonConfig.load(path: configPath, environment: environment)
        } catch {
            logger.error("reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
            throw error
        }
        let outcome = running.reload(fresh)
        // Logged before a quieter level takes effect, so the reload is always on record.
        logger.notice("configuration reloaded", metadata: [
            "applied": "\(outcome.applied)", "restart_required": "\(outcome.restartRequired)",
        ])
        if outcome.applied.contains("log_level") { logControl.level = fresh.logLevel }
        if outcome.applied.contains("log_format") { logControl.setFormat(fresh.logFormat) }
        return outcome
    }
}
