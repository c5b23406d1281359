import Synchronization

/// Whether a connection is waiting for the server now, and since when it has
/// (or has not): lets the owner of a thread tell "blocked on PostgreSQL",
/// which the daemon survives, from "stuck in its own code", which a watchdog
/// must see. Read from any thread; changed only by the connection.
public final class ServerWaits: Sendable {
    /// Waiting or not, and since when; `forAnswer` while the wait is for the
    /// answer to something sent (a statement), not for notifications.
    public struct State: Sendable, Equatable {
        public let waiting: Bool
        public let since: ContinuousClock.Instant
        public var forAnswer = false
    }

    private let current = Mutex(State(waiting: false, since: .now))
    private let answers = Atomic(0)

    public init() {}

    public var state: State { current.withLock { $0 } }

    /// How many answers the connection has waited for: its round trips
    /// (but for statements run with a deadline of their own).
    public var roundTrips: Int { answers.load(ordering: .relaxed) }

    /// Runs `body`, a call that blocks on the server, marked as a wait
    /// (for an answer unless `forAnswer` is false).
    func during<T>(forAnswer: Bool = true, _ body: () throws -> T) rethrows -> T {
        if forAnswer { answers.add(1, ordering: .relaxed) }
        current.withLock { $0 = State(waiting: true, since: .now, forAnswer: forAnswer) }
        defer { current.withLock { $0 = State(waiting: false, since: .now) } }
        return try body()
    }
}
