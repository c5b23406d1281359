import ConveyorPostgres

/// Accounts an integration set to `won` with plain SQL instead of calling
/// `conveyor.record_win`: they have no handoff job, so housekeeping looks for
/// them and enqueues it, as `record_win` would have. A won account is never
/// forgotten, whoever wrote it (SQL in `SQL/queries/handoff.sql`).
public enum ForgottenWins {
    /// Enqueues the handoff of up to `limit` such accounts; returns how many.
    public static func enqueue(_ connection: PostgresConnection, limit: Int = 1000) throws -> Int {
        try connection.query(Queries.enqueueForgottenWins, [limit]).count
    }
}
