import ConveyorPostgres
import Foundation

/// Why conveyord cannot work through its database connection: the connection
/// does not keep its server session between transactions.
public struct SessionStateError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// Checks, before anything else, that a connection keeps its server session
/// from one transaction to the next: workers `LISTEN`, every connection keeps
/// its prepared statements and session settings, `migrate` holds a session
/// advisory lock. A pooler that pools by transaction or by statement
/// (PgBouncer's `pool_mode=transaction` or `statement`) runs each transaction
/// on whichever server session is free, so none of that sticks.
///
/// The probe: `listener` LISTENs on `conveyor_session_probe`, `sender` notifies
/// that channel with a payload of its own, and `listener`, sending nothing
/// meanwhile, must receive it within `timeout`. The outcome is certain, not
/// likely: such a pooler passes a server's messages only to the client whose
/// transaction that server runs, and an idle listener has none, so the
/// notification never reaches it; a session of its own (a direct connection, or
/// PgBouncer's `pool_mode=session`) gets it as soon as the sender commits,
/// within milliseconds. The cost on a direct connection is a few round trips.
public enum SessionProbe {
    public static let channel = "conveyor_session_probe"

    /// Throws `SessionStateError` when `listener` misses the notification.
    public static func check(listener: PostgresConnection, sender: PostgresConnection, timeout: Duration = .seconds(5)) throws {
        let token = UUID().uuidString
        try listener.listen(channel)
        // Unprepared, so it is one round trip and one transaction, also behind a
        // transaction pooler (a statement prepared first could land on another session).
        try sender.query(Queries.sessionProbeNotify.sql, [channel, token])
        let deadline = ContinuousClock.now + timeout
        while case let remaining = deadline - ContinuousClock.now, remaining > .zero {
            let notifications = try listener.waitForNotifications(timeout: remaining / .seconds(1))
            if notifications.contains(where: { $0.channel == channel && $0.payload == token }) {
                try listener.execute("UNLISTEN \(listener.escapeIdentifier(channel))")
                return
            }
        }
        throw SessionStateError(description: """
            the connection to PostgreSQL does not keep its session: a LISTEN on one connection missed a NOTIFY \
            from another for \(timeout) (a pooler in transaction or statement mode?). conveyord needs \
            connections that keep their session (LISTEN/NOTIFY, prepared statements, session settings): \
            connect directly to PostgreSQL, or through PgBouncer with pool_mode=session
            """)
    }
}
