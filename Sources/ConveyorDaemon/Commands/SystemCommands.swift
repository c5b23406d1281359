import ConveyorPostgres
import ConveyorProtocol
import ConveyorStore
import Foundation
import Logging

/// Commands about the daemon itself: ping, help, version, status, metrics,
/// and the admin controls (drain, resume, shutdown, config.reload, log.level).
enum SystemCommands {
    /// Every system command but `help`, which the daemon adds once it knows all its commands.
    static func handlers(_ context: DaemonContext) -> [String: CommandHandler] {
        [
            "ping": { _, _ in ["pong": true] },
            "version": { _, _ in try await version(context) },
            "status": { _, _ in try await status(context) },
            "metrics": { _, _ in ["text": .string(await MetricsExposition.all(context))] },
            "resume": { _, _ in
                context.workers.resume()
                return ["draining": false]
            },
            "shutdown": { _, caller in
                context.logger.notice("shutdown requested over the admin socket", metadata: ["uid": "\(caller.uid.map(String.init) ?? "?")"])
                Task { await context.shutdown.trigger() }
                return ["shutting_down": true]
            },
            "config.reload": { _, _ in
                let outcome: RunningConfig.ReloadOutcome
                do {
                    outcome = try context.reload()
                } catch let error as ConfigError {
                    throw ProtocolError(.conflict, "\(error); the running configuration is kept")
                }
                return [
                    "applied": .array(outcome.applied.map(JSONValue.string)),
                    "restart_required": .array(outcome.restartRequired.map(JSONValue.string)),
                ]
            },
            "log.level": { args, _ in
                let text = try args.string("level")
                guard let level = Logger.Level(rawValue: text.lowercased()) else {
                    throw ProtocolError(.invalidArgument, "level must be one of trace, debug, info, notice, warning, error, critical")
                }
                let previous = context.logControl.level
                context.logControl.level = level
                return ["level": .string(level.rawValue), "previous": .string(previous.rawValue)]
            },
        ]
    }

    /// `drain`: stops claiming, then answers once no batch is in flight or
    /// after `timeout` seconds (default 60; 0 answers at once), with a
    /// progress event every second while it waits.
    static func progressive(_ context: DaemonContext) -> [String: ProgressHandler] {
        [
            "drain": { args, _, progress in
                let timeout = Duration.seconds(try args.optionalInt("timeout", in: 0...3600) ?? 60)
                context.workers.drain()
                var ticker = ProgressTicker()
                while context.workers.batchesInFlight > 0, ticker.waited < timeout {
                    if ticker.eventDue() {
                        // A client that went away still drained the daemon: its drain is not a failure.
                        try? await progress([
                            "drain": ["in_flight": .int(Int64(context.workers.batchesInFlight)), "waited_ms": ticker.waitedMilliseconds],
                        ])
                    }
                    try await Task.sleep(for: .milliseconds(10))
                }
                let left = context.workers.batchesInFlight
                return ["draining": true, "drained": .bool(left == 0), "in_flight": .int(Int64(left)), "waited_ms": ticker.waitedMilliseconds]
            },
        ]
    }

    static func help(_ commands: [CommandSpec]) -> JSONValue {
        CommandCatalog.helpResult(commands)
    }

    static func version(_ context: DaemonContext) async throws -> JSONValue {
        let server = try await context.database.run { try ServerStore.serverVersion($0) }
        return [
            "version": .string(ConveyorVersion.current),
            "proto": .int(Int64(Greeting.currentProto)),
            "libpq": .string(versionText(PostgresConnection.libraryVersion)),
            "server": .string(server),
        ]
    }

    /// libpq's 150018 → "15.18".
    static func versionText(_ number: Int) -> String { "\(number / 10000).\(number % 10000)" }

    static func status(_ context: DaemonContext) async throws -> JSONValue {
        var result: [String: JSONValue] = [
            "version": .string(ConveyorVersion.current),
            "uptime_seconds": .double((Date().timeIntervalSince(context.startedAt) * 1000).rounded() / 1000),
            "pid": .int(Int64(getpid())),
            "shutting_down": .bool(context.shutdown.isShuttingDown),
            "workers": [
                "configured": .int(Int64(context.config.workers)),
                "draining": .bool(context.workers.isDraining),
                "batches_in_flight": .int(Int64(context.workers.batchesInFlight)),
                "phases": .array(context.workers.phases(.routine).map { .string($0.rawValue) }),
                "long_lane": .array(context.workers.phases(.long).map { .string($0.rawValue) }),
            ],
        ]
        do {
            guard let read = try await awaitAtMost(DaemonContext.statusPatience, { try await context.statusRead.value() }) else {
                throw PostgresError(kind: .connection, message: "PostgreSQL did not answer within \(DaemonContext.statusPatience)")
            }
            let snapshot = read.snapshot
            func milliseconds(_ duration: Duration) -> JSONValue { .double((duration / .microseconds(1)).rounded() / 1000) }
            let horizon = snapshot.horizon
            result["database"] = [
                "reachable": true, "round_trip_ms": milliseconds(read.roundTrip), "age_ms": milliseconds(.now - read.began),
                "xmin_horizon": [
                    "xids": .int(horizon.xids), "seconds": horizon.seconds.map { .double(($0 * 1000).rounded() / 1000) } ?? .null,
                    "held_by": horizon.holder.map(JSONValue.string) ?? .null,
                ],
            ]
            result["queue"] = .object(snapshot.queue.jobsByState.mapValues(JSONValue.int))
            result["open_alerts"] = .int(snapshot.openAlerts)
            result["scans"] = try ScanStatus.json(teams: snapshot.scanTeams, lastRuns: snapshot.lastScanRuns, now: Date())
        } catch {
            result["database"] = ["reachable": false, "error": .string("\(error)")]
        }
        return .object(result)
    }
}
