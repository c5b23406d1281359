import ConveyorPostgres
import ConveyorStore
import Logging
import ServiceLifecycle

/// Periodic upkeep, safe with several daemons at once: makes waiting jobs
/// whose wake-up time passed available (a rep back from away), opens alerts
/// whose snooze ended, and prunes finished jobs past the retention in small
/// batches.
struct Housekeeping: Service {
    let database: ConnectionPool
    let retention: Double
    let logger: Logger
    var interval: Duration = .seconds(30)
    /// Prune on every `pruneEvery`-th round.
    var pruneEvery = 10

    func run() async throws {
        var round = 0
        repeat {
            let prune = round % pruneEvery == 0
            round += 1
            do {
                let retention = self.retention
                let (woken, unsnoozed, pruned) = try await database.run { connection in
                    (
                        try JobStore.wakeDueWaiting(connection), try AlertStore.wakeSnoozed(connection),
                        prune ? try JobStore.prune(connection, retention: retention) : 0
                    )
                }
                if woken > 0 { logger.info("woke waiting jobs", metadata: ["jobs": "\(woken)"]) }
                if unsnoozed > 0 { logger.info("snoozes ended", metadata: ["alerts": "\(unsnoozed)"]) }
                if pruned > 0 { logger.info("pruned finished jobs", metadata: ["jobs": "\(pruned)"]) }
            } catch {
                logger.warning("housekeeping failed; will retry", metadata: ["error": "\(error)"])
            }
        } while await pauseUnlessShuttingDown(for: interval)
    }
}
