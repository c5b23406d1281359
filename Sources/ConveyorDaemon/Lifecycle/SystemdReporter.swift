import ConveyorCore
import ConveyorStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Tells systemd how the daemon is doing: `READY=1` once the admin socket
/// listens and every worker has connected (migrations were checked before
/// either started), a `STATUS=` line for `systemctl status` every
/// `statusInterval`, and `WATCHDOG=1` at half of `WatchdogSec` only while no
/// worker is wedged outside the database for longer than `wedgeLimit`. The
/// pings never wait for the database: a slow status read only delays its
/// line. Outside systemd it only waits for shutdown.
struct SystemdReporter: Service {
    let notifier: SystemdNotifier
    let context: DaemonContext
    let listening: Flag
    let wedgeLimit: Duration
    let logger: Logger
    var statusInterval: Duration = .seconds(10)

    /// Set once, by whoever knows (the admin server when it listens, the reporter when it said READY).
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        init() {}
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    func run() async throws {
        guard notifier.socketPath != nil else {
            try? await gracefulShutdown()
            return
        }
        while !(listening.isSet && context.workers.everyWorkerConnected) {
            guard await pauseUnlessShuttingDown(for: .milliseconds(20)) else { return }
        }
        notifier.notify("READY=1")
        context.ready.set()
        logger.info("told systemd the daemon is ready", metadata: ["watchdog_seconds": "\(notifier.watchdogInterval.map { "\($0 / .seconds(1))" } ?? "off")"])
        await withDiscardingTaskGroup { group in
            if let interval = notifier.watchdogInterval {
                group.addTask { await pingWatchdog(every: interval / 2) }
            }
            group.addTask {
                repeat {
                    notifier.notify("STATUS=\(await Self.statusLine(context))")
                } while await pauseUnlessShuttingDown(for: statusInterval)
            }
        }
    }

    private func pingWatchdog(every tick: Duration) async {
        var wedged: [Int] = []
        while await pauseUnlessShuttingDown(for: tick) {
            let now = context.workers.wedgedWorkers(limit: wedgeLimit)
            if now.isEmpty {
                notifier.notify("WATCHDOG=1")
                if !wedged.isEmpty { logger.notice("workers are back in step; pinging the watchdog again") }
            } else if now != wedged {
                logger.critical("workers are stuck outside the database; withholding the watchdog's ping", metadata: [
                    "workers": "\(now)", "limit_seconds": "\(wedgeLimit / .seconds(1))",
                ])
            }
            wedged = now
        }
    }

    /// One line a person reads in `systemctl status`: the queue, the handoffs
    /// waiting for capacity, the open alerts and the latest scan.
    static func statusLine(_ context: DaemonContext) async -> String {
        let draining = context.workers.isDraining ? "draining (not claiming jobs); " : ""
        guard let snapshot = try? await context.statusRead.value().snapshot else { return draining + "PostgreSQL unreachable" }
        let byState = snapshot.queue.jobsByState
        let waitingHandoffs = snapshot.queue.filter { $0.kind == "handoff" && $0.state == "waiting" }.reduce(0) { $0 + $1.jobs }
        var parts = [
            "queue \(byState["available", default: 0]) available, \(byState["running", default: 0]) running, \(byState["dead", default: 0]) dead",
            "\(waitingHandoffs) handoffs waiting",
            "\(snapshot.openAlerts) open alerts",
        ]
        if let (team, run) = snapshot.lastScanRuns.max(by: { $0.value.finishedAt < $1.value.finishedAt }) {
            let name = snapshot.scanTeams.first { $0.id == team }?.name ?? "team \(team)"
            parts.append("last scan \(name) at \(ISO8601.string(run.finishedAt))")
        } else {
            parts.append("no scan yet")
        }
        return draining + parts.joined(separator: "; ")
    }
}
