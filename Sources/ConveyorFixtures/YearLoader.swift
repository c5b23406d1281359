import ConveyorPostgres
import Foundation

/// Loads a generated year into PostgreSQL, set-based: per team one statement
/// for the team, one for its reps, and one per chunk of accounts that inserts
/// the accounts, their deals and their interactions from arrays
/// (`SQL/fixtures/year.sql`). Each team loads in one transaction: a failed
/// load leaves nothing of it.
public enum YearLoader {
    /// What a load took.
    public struct Figures: Sendable {
        public let accounts: Int
        public let interactions: Int
        public let seconds: Double
    }

    /// Accounts per statement: enough to amortize a round trip, few enough
    /// to keep one statement's arrays and trigger queue a few megabytes.
    static let chunk = 2_000

    /// Loads every team of `plan` (none of them may exist yet), then analyzes the tables.
    @discardableResult
    public static func load(_ plan: YearPlan, into connection: PostgresConnection) throws -> Figures {
        let started = Date()
        for team in plan.teams {
            try connection.transaction { try load(team, asOf: plan.spec.asOf, connection) }
        }
        try connection.execute(FixtureQueries.analyzeFixtureTables)
        return Figures(accounts: plan.teams.reduce(0) { $0 + $1.accounts.count },
                       interactions: plan.teams.reduce(0) { $0 + $1.size.interactions },
                       seconds: Date().timeIntervalSince(started))
    }

    private static func load(_ team: TeamPlan, asOf: Date, _ connection: PostgresConnection) throws {
        let teamId: Int64
        do {
            teamId = try connection.query(FixtureQueries.insertFixtureTeam, [team.size.name, team.size.timeZone])[0]["id"].int64()
        } catch let error as PostgresError where error.code == .uniqueViolation {
            throw FixtureError("team \(team.size.name) already exists; generate into another team name or database")
        }
        try connection.query(FixtureQueries.insertFixtureReps, [
            teamId, team.reps.map(\.ref), team.reps.map(\.name), team.reps.map(\.role), team.reps.map(\.capacity),
            team.reps.map { $0.skills.joined(separator: ",") },
        ])
        let repRefs = team.reps.map(\.ref)
        for start in stride(from: 0, to: team.accounts.count, by: chunk) {
            let accounts = team.accounts[start..<min(start + chunk, team.accounts.count)]
            // Plan indexes are 0-based; SQL arrays are 1-based.
            let blocks = accounts.enumerated().flatMap { position, account in account.blocks.map { (position + 1, $0) } }
            try connection.query(FixtureQueries.insertFixtureAccounts, [
                teamId, asOf, repRefs,
                accounts.map(\.ref), accounts.map(\.name), accounts.map(\.pattern.stage),
                accounts.map { $0.needs.joined(separator: ",") }, accounts.map(\.value),
                accounts.map { $0.hunter.map { $0 + 1 } }, accounts.map { $0.owner.map { $0 + 1 } },
                accounts.map(\.wonDaysAgo), accounts.map(\.handedOffDaysAgo),
                accounts.map { $0.contacts[0] }, accounts.map { $0.contacts[1] }, accounts.map { $0.contacts[2] },
                accounts.map(\.deals.count), accounts.map(\.deals.amount), accounts.map(\.deals.marginPercent),
                accounts.map(\.deals.nearDaysAgo), accounts.map(\.deals.farDaysAgo),
                blocks.map(\.0), blocks.map { $0.1.rep + 1 }, blocks.map(\.1.count),
                blocks.map(\.1.nearDaysAgo), blocks.map(\.1.farDaysAgo), blocks.map(\.1.contacts.rawValue), blocks.map(\.1.phase),
            ])
        }
    }

    /// Digests of a team's loaded rows, by refs: two loads of one plan give equal digests.
    public static func digest(team: String, _ connection: PostgresConnection) throws -> [String: String] {
        let row = try connection.query(FixtureQueries.fixtureDigest, [team])[0]
        var digest: [String: String] = [:]
        for column in ["accounts", "reps", "deals", "interactions"] { digest[column] = try row[column].string() }
        digest["interaction_count"] = String(try row["interaction_count"].int64())
        return digest
    }

    /// A team's loaded accounts per stage.
    public static func stageCounts(team: String, _ connection: PostgresConnection) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try connection.query(FixtureQueries.fixtureStageCounts, [team]) {
            counts[try row["stage"].string()] = try row["accounts"].int()
        }
        return counts
    }
}
