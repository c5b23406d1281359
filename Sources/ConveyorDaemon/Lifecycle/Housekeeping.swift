import ConveyorPostgres
import ConveyorStore
import Logging
import ServiceLifecycle

/// Periodic upkeep, safe with several daemons at once: makes waiting jobs
/// whose wake-up time passed available (a rep back from away), opens alerts
/// whose snooze ended, enqueues the handoff of accounts set to `won` by plain
/// SQL (``ForgottenWins``), and prunes finished jobs past the retention in
/// small batches and candidate snapshots nothing names any more
/// (``UnusedSnapshots``), a window of them per pruning round.
struct Housekeeping: Service {
    let database: ConnectionPool
    let retention: Double
    let logger: Logger
    /// Rounds come every `poll_interval`, but at least this often.
    static let longestInterval = 30.0
    var interval: Duration = .seconds(longestInterval)
    /// Prune on every `pruneEvery`-th round.
    var pruneEvery = 10

    func run() async throws {
        var round = 0
        var snapshots = UnusedSnapshots.Cursor()
        repeat {
            let prune = round % pruneEvery == 0
            round += 1
            do {
                let retention = self.retention
                let cursor = snapshots
                let (woken, unsnoozed, pruned, unused, next) = try await database.run { connection in
                    var next = cursor
                    let woken = try JobStore.wakeDueWaiting(connection), unsnoozed = try AlertStore.wakeSnoozed(connection)
                    let pruned = prune ? try JobStore.prune(connection, retention: retention) : 0
                    let unused = prune ? try UnusedSnapshots.prune(connection, from: &next) : 0
                    return (woken, unsnoozed, pruned, unused, next)
                }
                snapshots = next
                if woken > 0 { logger.info("woke waiting jobs", metadata: ["jobs": "\(woken)"]) }
                if unsnoozed > 0 { logger.info("snoozes ended", metadata: ["alerts": "\(unsnoozed)"]) }
                if pruned > 0 { logger.info("pruned finished jobs", metadata: ["jobs": "\(pruned)"]) }
                if unused > 0 { logger.info("pruned unused candidate snapshots", metadata: ["snapshots": "\(unused)"]) }
            } catch {
                logger.warning("housekeeping failed; will retry", metadata: ["error": "\(error)"])
            }
            // On its own, so an account the sweep cannot write (an integration's trigger refusing it)
            // never stops the rest of housekeeping.
            do {
                let found = try await database.run { try ForgottenWins.enqueue($0) }
                if found > 0 {
                    logger.notice("enqueued the handoff of accounts won without record_win", metadata: ["accounts": "\(found)"])
                }
            } catch {
                logger.warning("cannot enqueue the handoff of accounts won without record_win; will retry", metadata: ["error": "\(error)"])
            }
        } while await pauseUnlessShuttingDown(for: interval)
    }
}
