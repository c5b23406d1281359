import ConveyorPostgres

/// The attachment rules as one hand-written, read-only aggregate query
/// (`SQL/fixtures/rules.sql`): the alerts a scan of a team raises at the
/// team's settings, written nowhere. conveyor-bench's `scan-raw` times it; the
/// tests check generated years against it. And the alerts scans did raise,
/// in the same form, to compare with a ground truth.
public enum RawRules {
    /// The alerts a scan of `team` raises now, sorted; run with the scan's `work_mem`.
    public static func alerts(team: String, _ connection: PostgresConnection) throws -> [ExpectedAlert] {
        try connection.transaction {
            try connection.query(FixtureQueries.ruleWorkMem)
            return try ExpectedAlert.rows(try connection.query(FixtureQueries.attachmentRuleAlerts, [team]), team: team)
        }
    }

    /// The unresolved attachment alerts of `team` in `conveyor.alerts`: what its scans raised.
    public static func raised(team: String, _ connection: PostgresConnection) throws -> [ExpectedAlert] {
        try ExpectedAlert.rows(try connection.query(FixtureQueries.teamAttachmentAlerts, [team]), team: team)
    }
}

extension ExpectedAlert {
    /// Rows of `account`, `kind` and `rep` columns.
    static func rows(_ rows: PostgresRows, team: String) throws -> [ExpectedAlert] {
        try rows.map { row in
            guard let kind = AlertKind(rawValue: try row["kind"].string()) else { throw FixtureError("unknown alert kind") }
            return ExpectedAlert(team: team, account: try row["account"].string(), kind: kind, rep: try row["rep"].string())
        }
    }
}
