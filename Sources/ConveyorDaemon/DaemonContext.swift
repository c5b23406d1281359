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
    let logLevel: LogLevelControl
    let metrics: PrometheusCollectorRegistry
    let logger: Logger
    /// What `status` shows from the database, read once for the callers asking
    /// within `statusMaxAge` of each other.
    let statusRead: SharedRead<TimedStatus>
    static let statusMaxAge: Duration = .milliseconds(100)
    /// The database's figures for `metrics`, read at most once a second.
    let metricsRead: SharedRead<DatabaseFigures>
    private let configPath: String?
    private let environment: [String: String]
    /// What the config sources said at start (what runs) and at the last reload.
    private let started: DaemonConfig
    private let loaded: Mutex<DaemonConfig>

    init(
        config: DaemonConfig, configPath: String?, environment: [String: String], database: ConnectionPool,
        workers: WorkerPool, shutdown: ShutdownTrigger, logLevel: LogLevelControl,
        metrics: PrometheusCollectorRegistry, logger: Logger
    ) {
        started = config
        loaded = Mutex(config)
        self.configPath = configPath
        self.environment = environment
        self.database = database
        self.workers = workers
        self.shutdown = shutdown
        self.logLevel = logLevel
        self.metrics = metrics
        self.logger = logger
        statusRead = SharedRead(maxAge: Self.statusMaxAge) {
            let began = ContinuousClock.now
            let snapshot = try await database.run { try ServerStore.status($0) }
            return TimedStatus(snapshot: snapshot, began: began, roundTrip: .now - began)
        }
        metricsRead = SharedRead(maxAge: .seconds(1)) { try await database.run { try DatabaseFigures.read($0) } }
    }

    /// The configuration in force (a reload changes only the log level).
    var config: DaemonConfig { started }

    /// Rereads the config file and environment. A log level changed there
    /// applies at once (a level set with `log.level` stays until then);
    /// keys that differ from the running configuration are reported as
    /// needing a restart.
    func reload() throws -> (applied: [String], restartRequired: [String]) {
        let fresh = try DaemonConfig.load(path: configPath, environment: environment)
        let previous = loaded.withLock { last in
            defer { last = fresh }
            return last
        }
        let applied = fresh.logLevel != previous.logLevel ? ["log_level"] : []
        let restartRequired = DaemonConfig.table.filter { key in
            key.reload == .restart && fresh.value(of: key.name) != started.value(of: key.name)
        }.map(\.name)
        // Logged before a quieter level takes effect, so the reload is always on record.
        logger.notice("configuration reloaded", metadata: [
            "applied": "\(applied)", "restart_required": "\(restartRequired)",
        ])
        if !applied.isEmpty { logLevel.current = fresh.logLevel }
        return (applied, restartRequired)
    }
}
