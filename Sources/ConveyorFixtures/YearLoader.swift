import ConveyorPostgres
import Foundation

/// Loads a generated year into PostgreSQL, set-based: per team one statement
/// for the team, one for its reps, and per chunk of accounts one that inserts
/// them from arrays and one that expands their deals and interactions from
/// arrays of blocks (`SQL/fixtures/year.sql`). Each team loads in one transaction: a failed
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
        var repIdsByRef: [String: Int64] = [:]
        for row in try connection.query(FixtureQueries.insertFixtureReps, [
            teamId, team.reps.map(\.ref), team.reps.map(\.name), team.reps.map(\.role), team.reps.map(\.capacity),
            team.reps.map { $0.skills.joined(separator: ",") },
        ]) {
            repIdsByRef[try row["ref"].string()] = try row["id"].int64()
        }
        let repIds = try team.reps.map { rep in
            guard let id = repIdsByRef[rep.ref] else { throw FixtureError("rep \(rep.ref) was not inserted") }
            return id
        }
        for start in stride(from: 0, to: team.accounts.count, by: chunk) {
            let accounts = team.accounts[start..<min(start + chunk, team.accounts.count)]
            // Plan rep indexes are 0-based; SQL arrays are 1-based.
            let rows = try connection.query(FixtureQueries.insertFixtureAccounts, [
                teamId, asOf, repIds,
                accounts.map(\.ref), accounts.map(\.name), accounts.map(\.pattern.stage),
                accounts.map { $0.needs.joined(separator: ",") }, accounts.map(\.value),
                accounts.map { $0.hunter.map { $0 + 1 } }, accounts.map { $0.owner.map { $0 + 1 } },
                accounts.map(\.wonDaysAgo), accounts.map(\.handedOffDaysAgo),
            ])
            var ids: [String: Int64] = [:]
            for row in rows { ids[try row["ref"].string()] = try row["id"].int64() }
            let withIds = try accounts.map { account in
                guard let id = ids[account.ref] else { throw FixtureError("account \(account.ref) was not inserted") }
                return (id: id, account: account)
            }
            let dealing = withIds.filter { $0.account.deals.count > 0 }
            let blocks = withIds.flatMap { id, account in account.blocks.map { (id: id, account: account, block: $0) } }
            try connection.query(FixtureQueries.insertFixtureActivity, [
                asOf, repIds,
                dealing.map(\.id), dealing.map { ($0.account.owner ?? $0.account.hunter).map { $0 + 1 } },
                dealing.map(\.account.deals.count), dealing.map(\.account.deals.amount), dealing.map(\.account.deals.marginPercent),
                dealing.map(\.account.deals.nearDaysAgo), dealing.map(\.account.deals.farDaysAgo),
                blocks.map(\.id), blocks.map { $0.block.rep + 1 }, blocks.map(\.block.count),
                blocks.map(\.block.nearDaysAgo), blocks.map(\.block.farDaysAgo), blocks.map(\.block.contacts.rawValue),
                blocks.map(\.block.phase),
                blocks.map { $0.account.contacts[0] }, blocks.map { $0.account.contacts[1] }, blocks.map { $0.account.contacts[2] },
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
