import ConveyorPostgres
import ConveyorProtocol
import ConveyorStore
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import UnixSignals

/// A problem that stops the daemon from starting, said in one line.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
}

/// Assembles and runs conveyord: checks the schema is current, then runs the workers, the
/// housekeeping, the nightly scans' scheduler, the admin socket and the
/// signal handling under one `ServiceGroup` until a graceful shutdown completes.
public struct Daemon {
    public let config: DaemonConfig
    public let configPath: String?
    public let environment: [String: String]
    public let logger: Logger
    public let logControl: LogControl
    public let metrics: PrometheusCollectorRegistry

    public init(
        config: DaemonConfig, configPath: String?, environment: [String: String], logger: Logger,
        logControl: LogControl, metrics: PrometheusCollectorRegistry
    ) {
        self.config = config
        self.configPath = configPath
        self.environment = environment
        self.logger = logger
        self.logControl = logControl
        self.metrics = metrics
    }

    /// The job handlers this daemon runs; webhooks go out through `webhooks`.
    static func handlers(webhooks: WebhookPoster) -> [any JobHandler] {
        [NoopHandler(), ProbeHandler(), HandoffHandler(), DepartHandler(), ScanHandler(), WebhookHandler(poster: webhooks)]
    }

    /// Applies pending migrations and returns those applied; one clear error when it
    /// cannot (also on a connection that does not keep its session: the lock is a session's).
    public static func migrate(conninfo: String?) throws -> [Migration] {
        try withMigrator(conninfo: conninfo, applicationName: "conveyord-migrate") { try $0.migrate($1) }
    }

    /// Refuses to run on a connection that does not keep its session (a pooler
    /// in transaction mode) or a schema this binary does not match: migrations
    /// pending (run `conveyord migrate`) or a newer schema (upgrade conveyord).
    static func checkSchema(conninfo: String?) throws {
        try withMigrator(conninfo: conninfo, applicationName: "conveyord") { try $0.checkCurrent($1) }
    }

    /// What `database_url` sets of the network bounds and the watchdog's bound,
    /// in one line for `check-config`; throws on a value that is not a whole number.
    public static func networkBounds(conninfo: String?) throws -> String {
        try NetworkBounds(conninfo: conninfo).summary
    }

    /// Runs `body` on a connection that `SessionProbe` found to keep its session
    /// (a second connection sends the probe's notification).
    private static func withMigrator<T>(
        conninfo: String?, applicationName: String, _ body: (Migrator, PostgresConnection) throws -> T
    ) throws -> T {
        let connection: PostgresConnection
        let sender: PostgresConnection
        do {
            connection = try PostgresConnection(conninfo: conninfo, applicationName: applicationName)
            sender = try PostgresConnection(conninfo: conninfo, applicationName: applicationName)
        } catch {
            throw StartupError(description: "cannot connect to PostgreSQL: \(error)")
        }
        do {
            try SessionProbe.check(listener: connection, sender: sender)
            return try body(Migrator(), connection)
        } catch {
            throw StartupError(description: "\(error)")
        }
    }

    /// Every admin command this daemon serves, `help` listing exactly those.
    static func dispatcher(_ context: DaemonContext, audit: ConnectionPool, watchdog: ConnectionWatchdog) -> AdminDispatcher {
        var handlers = SystemCommands.handlers(context)
        handlers.merge(QueueCommands.handlers(context)) { first, _ in first }
        handlers.merge(DirectoryCommands.handlers(context)) { first, _ in first }
        handlers.merge(AlertCommands.handlers(context)) { first, _ in first }
        let heartbeat = min(30, context.config.idleTimeout / 2)
        let streams: [String: StreamHandler] = [
            "watch": WatchCommand.handler(conninfo: context.config.databaseURL, heartbeat: heartbeat, watch: { watchdog.watch($0) }),
        ]
        let progressive = SystemCommands.progressive(context).merging(QueuedCommands.handlers(context)) { first, _ in first }
        let names = Set(handlers.keys).union(progressive.keys).union(streams.keys).union(["help"])
        let served = CommandCatalog.all.filter { names.contains($0.name) }
        handlers["help"] = { _, _ in SystemCommands.help(served) }
        return AdminDispatcher(
            handlers: handlers, progressive: progressive, streams: streams,
            teamLookups: QueueCommands.teamLookups(context).merging(AlertCommands.teamLookups(context)) { first, _ in first },
            audit: audit, logger: context.logger)
    }

    /// The swift-metrics factory `conveyord` bootstraps, exporting to `registry`
    /// with the buckets our histograms need.
    public static func metricsFactory(_ registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        JobTimers.configure(&factory)
        return factory
    }

    public func run() async throws {
        // The socket first: a second daemon on the same path stops here,
        // before it migrates or claims anything.
        let socket: AdminSocket
        do {
            socket = try AdminSocket(path: config.adminSocket, group: config.socketGroup)
        } catch {
            throw StartupError(description: "\(error)")
        }
        // Before any connection: libpq would otherwise report a bad keepalive setting its own way.
        let bounds: NetworkBounds
        do {
            bounds = try NetworkBounds(conninfo: config.databaseURL)
        } catch {
            socket.remove()
            throw StartupError(description: "\(error)")
        }
        do {
            try Self.checkSchema(conninfo: config.databaseURL)
        } catch {
            socket.remove()
            throw error
        }
        // Every connection of the daemon is watched: one that waits past the bound for an answer is cut.
        let watchdog = ConnectionWatchdog(conninfo: config.databaseURL, bound: bounds.silenceBound, logger: logger)
        let watch: @Sendable (ConnectionLiveness) -> Void = { watchdog.watch($0) }
        // Admin commands, the audit and the periodic upkeep each have connections of their own,
        // so none of them waits behind the others.
        let database = ConnectionPool(
            conninfo: config.databaseURL, name: "conveyor-admin-db", applicationName: "conveyord-admin",
            size: config.adminDatabaseConnections, statementTimeout: .seconds(config.adminStatementTimeout), watch: watch)
        let audit = ConnectionPool(
            conninfo: config.databaseURL, name: "conveyor-audit-db", applicationName: "conveyord-audit", watch: watch)
        let upkeep = ConnectionPool(
            conninfo: config.databaseURL, name: "conveyor-upkeep-db", applicationName: "conveyord-upkeep", watch: watch)
        defer { [database, audit, upkeep].forEach { $0.close() } }
        // One HTTP client for every webhook delivery, shut down once the workers have stopped.
        let webhooks = WebhookPoster(timeout: config.webhookTimeout)
        let handlers = Self.handlers(webhooks: webhooks)
        let routine = JobProcessor(handlers: handlers, batchSize: config.batchSize)
        // The long lane runs its scans and deliveries one at a time.
        let long = JobProcessor(handlers: handlers, lane: .long, batchSize: 1)
        let workers = WorkerPool(
            processors: Array(repeating: routine, count: config.workers) + [long],
            conninfo: config.databaseURL,
            pollInterval: config.pollInterval,
            logger: logger,
            watch: watch
        )
        let notifier = SystemdNotifier(environment: environment)
        let trigger = ShutdownTrigger(notifier: notifier)
        let context = DaemonContext(
            config: config, configPath: configPath, environment: environment, database: database, workers: workers,
            shutdown: trigger, logControl: logControl, notifier: notifier, metrics: metrics, logger: logger
        )
        let dispatcher = Self.dispatcher(context, audit: audit, watchdog: watchdog)
        let listening = SystemdReporter.Flag()
        let admin = AdminServer(settings: { context.config }, socket: socket, dispatcher: dispatcher, logger: logger) {
            listening.set()
        }
        let signals = SignalService(
            signals: await UnixSignalsSequence(trapping: [.sigterm, .sigint, .sighup]),
            trigger: trigger,
            reload: { _ = try? context.reload() },
            socketPath: config.adminSocket,
            logger: logger
        )
        // A wait for a webhook's answer is bounded by its timeout and not a wedge.
        let wedgeLimit = max(notifier.watchdogInterval ?? .zero, .seconds(config.webhookTimeout + 5))
        let reporter = SystemdReporter(notifier: notifier, context: context, listening: listening, wedgeLimit: wedgeLimit, logger: logger)
        let textfile = config.metricsTextfile.map { path in
            ServiceGroupConfiguration.ServiceConfiguration(service: MetricsTextfile(
                path: path, interval: .seconds(config.metricsTextfileInterval), context: context, logger: logger))
        }
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: signals),
                .init(service: reporter),
                // Before the workers: stopped after them, so it guards their last batches too.
                .init(service: watchdog),
                .init(service: workers, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: Housekeeping(
                    database: upkeep, retention: config.jobRetention, logger: logger,
                    interval: .seconds(min(Housekeeping.longestInterval, max(0.1, config.pollInterval))))),
                .init(service: ScanScheduler(database: upkeep, logger: logger, interval: .seconds(config.scanCheckInterval))),
                .init(service: admin, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            ] + (textfile.map { [$0] } ?? []),
            logger: logger
        ))
        trigger.attach(group)
        logger.notice("conveyord started", metadata: ["version": "\(ConveyorVersion.current)", "workers": "\(config.workers)"])
        var failure: Error?
        do {
            try await group.run()
        } catch {
            failure = error
        }
        if !trigger.isShuttingDown { notifier.notify("STOPPING=1") }
        do {
            try await webhooks.shutdown()
        } catch {
            logger.warning("webhook client did not shut down cleanly", metadata: ["error": "\(error)"])
        }
        if let failure { throw StartupError(description: "\(failure)") }
        logger.notice("conveyord stopped")
    }
}
