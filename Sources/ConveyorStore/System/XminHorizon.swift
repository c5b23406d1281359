import ConveyorPostgres

/// The oldest snapshot or transaction that keeps vacuum from reclaiming
/// dead rows in this database (the queue's among them): how far it is
/// behind, for how long, and who holds it. `status` and `metrics` show it,
/// so a forgotten `BEGIN` in someone's psql is seen before the queue slows.
public struct XminHorizon: Sendable, Equatable {
    /// Transactions begun since the oldest snapshot held; 0 when none is held.
    public let xids: Int64
    /// How long its holder's transaction has run (a replication slot has none).
    public let seconds: Double?
    /// `pid 4711 (psql)`, `replication slot standby1` or `prepared transaction t1`.
    public let holder: String?

    static func decode(_ rows: PostgresRows) throws -> XminHorizon {
        let row = try rows[0]
        return XminHorizon(xids: try row["xids"].int64(), seconds: try row["seconds"].optionalDouble(), holder: try row["holder"].optionalString())
    }
}
