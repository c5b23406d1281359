import ConveyorPostgres

/// The attachment rules as one hand-written, read-only aggregate query
/// (`SQL/fixtures/rules.sql`): the alerts a scan of a team raises at the
/// team's settings, written nowhere. conveyor-bench's `scan-raw` times it; the
/// tests check generated years against it.
public enum RawRules {
    /// The alerts a scan of `team` raises now, sorted; run with the scan's `work_mem`.
    public static func alerts(team: String, _ connection: PostgresConnection) throws -> [ExpectedAlert] {
        try connection.transaction {
            try connection.query(FixtureQueries.ruleWorkMem)
            return try connection.query(FixtureQueries.attachmentRuleAlerts, [team]).map { row in
                guard let kind = AlertKind(rawValue: try row["kind"].string()) else { throw FixtureError("unknown alert kind") }
                return ExpectedAlert(team: team, account: try row["account"].string(), kind: kind, rep: try row["rep"].string())
            }
        }
    }
}
