import Foundation

/// A few `PostgresConnection`s, each owned by a thread of its own, bridged
/// to async code: callers `await run { connection in … }` and the closure
/// runs on whichever of those threads is free first (in the order the calls
/// came), never on Swift's cooperative pool. One slow call holds one
/// connection while the others keep serving. A pool of one is a dedicated
/// connection whose calls run one after another.
///
/// Connections are opened lazily and replaced after they are lost, so a
/// database that goes away fails calls with a connection error instead of
/// crashing, and the next call reconnects.
public final class ConnectionPool: @unchecked Sendable {
    /// A call waiting for a thread, given that thread's connection slot.
    private typealias Job = (inout PostgresConnection?) -> Void

    private let conninfo: String?
    private let applicationName: String
    private let statementTimeout: Duration?
    private let watch: (@Sendable (ConnectionLiveness) -> Void)?
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [Job] = []
    private var closed = false

    /// `size` connections, on threads named `name` (one) or `name-0`, `name-1`, ….
    /// With a `statementTimeout`, each connection's `statement_timeout` is set
    /// to it, so no statement holds a connection longer. `watch` is given
    /// each connection opened (a watchdog that cuts dead ones).
    public init(
        conninfo: String?, name: String, applicationName: String = "conveyor", size: Int = 1, statementTimeout: Duration? = nil,
        watch: (@Sendable (ConnectionLiveness) -> Void)? = nil
    ) {
        precondition(size >= 1, "a connection pool needs at least one connection")
        self.conninfo = conninfo
        self.applicationName = applicationName
        self.statementTimeout = statementTimeout
        self.watch = watch
        for index in 0..<size {
            // Each thread keeps `self` alive until `close()`.
            let thread = Thread { [self] in serve() }
            thread.name = size == 1 ? name : "\(name)-\(index)"
            thread.start()
        }
    }

    /// Runs `body` with one of the pool's connections on its owner thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let job: Job = { [self] connection in
                continuation.resume(with: Result { try use(&connection, body) })
            }
            condition.lock()
            if closed {
                condition.unlock()
                continuation.resume(throwing: PostgresError(kind: .connection, message: "connection is closed"))
                return
            }
            pending.append(job)
            condition.signal()
            condition.unlock()
        }
    }

    /// Finishes queued work, closes the connections and ends the threads.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `body` on `connection`, opening it first if it is missing or
    /// broken, and dropping it when the call lost it.
    private func use<T>(_ connection: inout PostgresConnection?, _ body: (PostgresConnection) throws -> T) throws -> T {
        connection?.refreshStatus()
        if connection?.isBroken ?? true {
            connection = nil
            let opened = try PostgresConnection(conninfo: conninfo, applicationName: applicationName)
            watch?(opened.liveness)
            if let statementTimeout {
                let milliseconds = max(1, Int(statementTimeout / .milliseconds(1)))
                try opened.query("select set_config('statement_timeout', $1, false)", [String(milliseconds)])
            }
            connection = opened
        }
        do {
            return try body(connection!)
        } catch let error as PostgresError where error.isConnectionLoss || connection?.isBroken == true {
            connection = nil
            throw error
        }
    }

    /// One thread's loop: take the oldest call, run it on this thread's connection.
    private func serve() {
        var connection: PostgresConnection?
        while true {
            condition.lock()
            while pending.isEmpty && !closed { condition.wait() }
            if pending.isEmpty && closed {
                condition.unlock()
                return
            }
            let job = pending.removeFirst()
            condition.unlock()
            job(&connection)
        }
    }
}

/// Capped exponential backoff for reconnecting: 0.1 s, 0.2 s, … up to `cap`.
public struct ReconnectBackoff: Sendable {
    public var initial: Double
    public var cap: Double

    public init(initial: Double = 0.1, cap: Double = 10) {
        self.initial = initial
        self.cap = cap
    }

    /// The delay before reconnect attempt `attempt` (1-based).
    public func delay(attempt: Int) -> Double {
        let exponent = Double(min(max(attempt - 1, 0), 30))
        return min(cap, initial * pow(2, exponent))
    }
}
