import ConveyorPostgres

/// Candidate snapshots that no handoff names any more and no team routes on:
/// their accounts, and with them their handoffs, were deleted. Housekeeping
/// deletes them, a window of snapshots per round so that no round reads
/// them all, and a team whose old accounts are deleted as fast as new ones
/// are won keeps a level number of snapshots (SQL in
/// `SQL/queries/handoff.sql`).
public enum UnusedSnapshots {
    /// Where the next round starts: after snapshot id `after`; 0 is the beginning.
    public struct Cursor: Sendable, Equatable {
        public var after: Int64 = 0
        public init() {}
    }

    /// Deletes the unused ones among the `window` snapshots after `cursor`,
    /// moves the cursor past them, or back to the beginning when the window
    /// comes back short, having reached the last snapshot (new ones keep
    /// coming after it, and the old ones are those that fall out of use),
    /// and returns how many it deleted.
    public static func prune(_ connection: PostgresConnection, from cursor: inout Cursor, window: Int = 10_000) throws -> Int {
        precondition(window > 0, "a round looks at one snapshot at least")
        let row = try connection.query(Queries.pruneUnusedSnapshots, [cursor.after, window])[0]
        cursor.after = try row["looked"].int() < window ? 0 : try row["last_id"].int64()
        return try row["deleted"].int()
    }
}
