import ConveyorPostgres
import Foundation
import Logging
import Prometheus
import Synchronization

/// What the admin commands act on: the shared pieces of a running daemon.
final class DaemonContext: Sendable {
    let startedAt = Date()
    let database: ConnectionPool
    let workers: WorkerPool
    let shutdown: ShutdownTrigger
    let logLevel: LogLevelControl
    let metrics: PrometheusCollectorRegistry
    let logger: Logger
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
