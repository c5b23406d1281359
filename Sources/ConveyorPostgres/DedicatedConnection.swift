import Foundation

/// Owns one `PostgresConnection` on a thread of its own and bridges it to
/// async code: callers `await run { connection in … }` and the closure runs
/// on that thread, never on Swift's cooperative pool.
///
/// The connection is opened lazily and replaced after it is lost, so a
/// database that goes away fails calls with a connection error instead of
/// crashing, and the next call reconnects.
public final class DedicatedConnection: @unchecked Sendable {
    private let conninfo: String?
    private let applicationName: String
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [() -> Void] = []
    private var closed = false
    // Touched only on the owner thread.
    private var connection: PostgresConnection?

    public init(conninfo: String?, name: String, applicationName: String = "conveyor") {
        self.conninfo = conninfo
        self.applicationName = applicationName
        // The thread keeps `self` alive until `close()`.
        let thread = Thread { [self] in serve() }
        thread.name = name
        thread.start()
    }

    /// Runs `body` with the connection on the owner thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let job = { [self] in
                continuation.resume(with: Result { try self.withConnection(body) })
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

    /// Finishes queued work, closes the connection and ends the thread.
    public func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
    }

    private func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        connection?.refreshStatus()
        if connection?.isBroken ?? true {
            connection = nil
            connection = try PostgresConnection(conninfo: conninfo, applicationName: applicationName)
        }
        do {
            return try body(connection!)
        } catch let error as PostgresError where error.isConnectionLoss || connection?.isBroken == true {
            connection = nil
            throw error
        }
    }

    private func serve() {
        while true {
            condition.lock()
            while pending.isEmpty && !closed { condition.wait() }
            if pending.isEmpty && closed {
                condition.unlock()
                connection = nil
                return
            }
            let job = pending.removeFirst()
            condition.unlock()
            job()
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
