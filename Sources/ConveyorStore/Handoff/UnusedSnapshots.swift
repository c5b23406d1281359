import ConveyorPostgres

/// Candidate snapshots that no handoff names any more and no team routes on:
/// their accounts, and with them their handoffs, were deleted. Housekeeping
/// deletes them, so a team whose old accounts are deleted as fast as new
/// ones are won keeps a level number of snapshots (SQL in
/// `SQL/queries/handoff.sql`).
public enum UnusedSnapshots {
    /// Deletes them, `batch` per statement; returns how many.
    @discardableResult
    public static func prune(_ connection: PostgresConnection, batch: Int = 1000) throws -> Int {
        precondition(batch > 0, "a batch deletes at least one snapshot")
        var total = 0
        while true {
            let deleted = try connection.query(Queries.pruneUnusedSnapshots, [batch]).affectedRows
            total += deleted
            if deleted < batch { return total }
        }
    }
}
