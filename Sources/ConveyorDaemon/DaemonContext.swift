import ConveyorPostgres
import Foundation
import Logging
import Prometheus
import Synchronization

/// What the admin commands act on: the shared pieces of a running daemon.
final class DaemonContext: Sendable {
    let startedAt = Date()
    let database: DedicatedConnection
    let workers: WorkerPool
    let shutdown: ShutdownTrigger
    let logLevel: LogLevelControl
    let metrics: PrometheusCollectorRegistry
    let logger: Logger
    private let configPath: String?
    private let environment: [String: String]
    private let settings: Mutex<DaemonConfig>

    init(
        config: DaemonConfig, configPath: String?, environment: [String: String], database: DedicatedConnection,
        workers: WorkerPool, shutdown: ShutdownTrigger, logLevel: LogLevelControl,
        metrics: PrometheusCollectorRegistry, logger: Logger
    ) {
        settings = Mutex(config)
        self.configPath = configPath
        self.environment = environment
        self.database = database
        self.workers = workers
        self.shutdown = shutdown
        self.logLevel = logLevel
        self.metrics = metrics
        self.logger = logger
    }

    var config: DaemonConfig { settings.withLock { $0 } }

    /// Rereads the config file and environment. The log level applies at
    /// once; other changed keys are reported as needing a restart.
    func reload() throws -> (applied: [String], restartRequired: [String]) {
        let fresh = try DaemonConfig.load(path: configPath, environment: environment)
        let old = settings.withLock { old in
            defer { old = fresh }
            return old
        }
        var applied: [String] = []
        if fresh.logLevel != old.logLevel {
            logLevel.current = fresh.logLevel
            applied.append("log_level")
        }
        let restartRequired = DaemonConfig.keys.filter { key in
            key != "log_level" && fresh.value(of: key) != old.value(of: key)
        }
        logger.notice("configuration reloaded", metadata: [
            "applied": "\(applied)", "restart_required": "\(restartRequired)",
        ])
        return (applied, restartRequired)
    }
}
