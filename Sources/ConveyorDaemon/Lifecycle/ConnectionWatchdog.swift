import ConveyorPostgres
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Cuts the daemon's connections that wait for an answer that will not come.
///
/// TCP keepalives (see ``NetworkBounds``) notice a peer whose kernel is gone,
/// but not one that answers probes while nothing reaches the server (a
/// stalled proxy or middlebox, a frozen server): a connection waiting for an
/// answer would wait for ever. So this thread looks, every quarter of the
/// bound, for connections that have waited for an answer longer than
/// `bound` seconds, and asks the server over a connection of its own (within
/// the bound) whether it is running their statements. Those it is not
/// running, or all of them when it does not answer, are cut: their blocked
/// call fails as a lost connection, and their owner reconnects as it does
/// after any loss. A long statement the server is running (a scan, a wait
/// for a lock) is never cut; an idle `LISTEN` wait is not an answer awaited.
final class ConnectionWatchdog: Service, Sendable {
    private let conninfo: String?
    /// Seconds a connection may wait for an answer before it is looked into.
    let bound: Double
    private let logger: Logger
    private let watched = Mutex<[WeakLiveness]>([])
    private let stopping = Atomic<Bool>(false)
    private let pipe = WakePipe()
    private let cuts = Counter(label: "conveyor_database_connections_cut_total")

    private struct WeakLiveness: @unchecked Sendable {
        weak var liveness: ConnectionLiveness?
    }

    init(conninfo: String?, bound: Double, logger: Logger) {
        self.conninfo = conninfo
        self.bound = bound
        self.logger = logger
    }

    /// Watches a connection until it is closed.
    func watch(_ liveness: ConnectionLiveness) {
        watched.withLock { list in
            list.removeAll { $0.liveness == nil }
            list.append(WeakLiveness(liveness: liveness))
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread { [self] in
                    patrol()
                    done.resume()
                }
                thread.name = "conveyor-watchdog"
                thread.start()
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
            self.pipe.signal()
        }
    }

    private func patrol() {
        var probe: PostgresConnection?
        while !stopping.load(ordering: .relaxed) {
            pipe.sleep(min(5, max(0.25, bound / 4)))
            let suspects = overdue()
            guard !suspects.isEmpty else { continue }
            let reason: String
            var cut = suspects
            do {
                if probe?.isBroken ?? true {
                    probe = nil
                    probe = try PostgresConnection(
                        conninfo: conninfo, applicationName: "conveyord-watchdog",
                        overrides: [("connect_timeout", "\(max(2, Int(bound.rounded(.up))))")])
                }
                let running = try Self.running(suspects.map(\.liveness.backendPID), on: probe!, within: bound)
                cut.removeAll { running.contains($0.liveness.backendPID) }
                reason = "the server is not running their statements"
            } catch {
                probe = nil
                reason = "PostgreSQL does not answer: \(error)"
            }
            // Only waits that are still the ones found overdue: a wait begun since is not cut.
            let done = cut.filter { $0.liveness.waits.state == $0.state && $0.liveness.cut() }
            guard !done.isEmpty else { continue }
            cuts.increment(by: done.count)
            logger.warning("cut connections that waited too long for PostgreSQL", metadata: [
                "connections": "\(done.count)", "bound_seconds": "\(bound)", "error": "\(reason)",
            ])
        }
    }

    /// The watched connections that have waited for an answer for `bound` seconds or more.
    private func overdue() -> [(liveness: ConnectionLiveness, state: ServerWaits.State)] {
        let now = ContinuousClock.now
        let all = watched.withLock { list in
            list.removeAll { $0.liveness == nil }
            return list.compactMap(\.liveness)
        }
        return all.compactMap { liveness in
            let state = liveness.waits.state
            return state.waiting && state.forAnswer && now - state.since >= .seconds(bound) ? (liveness, state) : nil
        }
    }

    /// Of `pids`, the server processes running a statement now (not blocked
    /// sending its answer to a client that does not read it).
    private static func running(_ pids: [Int32], on probe: PostgresConnection, within seconds: Double) throws -> Set<Int32> {
        let rows = try probe.query("""
            select pid from pg_stat_activity
            where pid = any($1::int[]) and state = 'active' and wait_event is distinct from 'ClientWrite'
            """, ["{" + pids.map(String.init).joined(separator: ",") + "}"], within: seconds)
        return Set(try rows.map { Int32(try $0["pid"].int()) })
    }
}
