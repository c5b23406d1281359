import ConveyorFixtures
import ConveyorPostgres
import Foundation
import Testing

/// A generated year loaded into PostgreSQL (ConveyorFixtures, SQL/fixtures/):
/// deterministic rows, the plan's sizes and shares, the ground truth found by
/// the hand-written rule query.
@Suite struct GeneratedYearTests {
    static func spec(seed: UInt64 = 7, asOf: Date = Date(timeIntervalSince1970: 1_796_000_000)) -> YearSpec {
        YearSpec(seed: seed, asOf: asOf, teams: [
            TeamSize(name: "china-rail", timeZone: "Asia/Shanghai", accounts: 600, interactions: 30_000),
            TeamSize(name: "berlin-road", timeZone: "Europe/Berlin", accounts: 150, interactions: 4_500),
        ])
    }

    static func loaded(_ spec: YearSpec) throws -> (plan: YearPlan, connection: PostgresConnection) {
        let plan = try FreightYear.plan(spec)
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        try YearLoader.load(plan, into: connection)
        return (plan, connection)
    }

    @Test func theSameSeedLoadsTheSameRowsAndAnotherSeedOthers() throws {
        let first = try Self.loaded(Self.spec()).connection
        let again = try Self.loaded(Self.spec()).connection
        let other = try Self.loaded(Self.spec(seed: 8)).connection
        for team in ["china-rail", "berlin-road"] {
            let digest = try YearLoader.digest(team: team, first)
            #expect(digest == (try YearLoader.digest(team: team, again)))
            let different = try YearLoader.digest(team: team, other)
            for table in ["accounts", "deals", "interactions"] {
                #expect(digest[table] != different[table], "\(team) \(table)")
            }
        }
    }

    @Test func theLoadHasThePlansSizesAndStages() throws {
        let (plan, connection) = try Self.loaded(Self.spec())
        for team in plan.teams {
            #expect(try YearLoader.digest(team: team.size.name, connection)["interaction_count"] == String(team.size.interactions))
            let stages = Dictionary(grouping: team.accounts, by: \.pattern.stage).mapValues(\.count)
            #expect(try YearLoader.stageCounts(team: team.size.name, connection) == stages)
        }
        let deals = try connection.query("select count(*)::int as n from conveyor.deals")[0]["n"].int()
        #expect(deals == plan.teams.flatMap(\.accounts).map(\.deals.count).reduce(0, +))
        let nullContacts = try connection.query("select count(*)::int as n from conveyor.interactions where contact is null")[0]["n"].int()
        #expect(nullContacts > 0)
        let kinds = try connection.query("select array_agg(distinct kind order by kind)::text as kinds from conveyor.interactions")[0]["kinds"].string()
        #expect(kinds == "{call,deal,email,meeting,shipment}")
    }

    @Test func theHandWrittenRulesFindExactlyTheGroundTruth() throws {
        let (plan, connection) = try Self.loaded(Self.spec(asOf: Date()))
        for team in plan.teams {
            let found = try RawRules.alerts(team: team.size.name, connection)
            let expected = plan.truth.alerts(team: team.size.name)
            #expect(Set(found).subtracting(expected).sorted() == [], "extra alerts")
            #expect(Set(expected).subtracting(found).sorted() == [], "missing alerts")
            #expect(found.count == expected.count)
        }
    }

    @Test func anExistingTeamIsRefusedAndLeftAsItWas() throws {
        let connection = try Self.loaded(Self.spec()).connection
        let before = try YearLoader.digest(team: "china-rail", connection)
        var spec = Self.spec(seed: 9)
        spec.teams = [TeamSize(name: "warsaw-hub", timeZone: "Europe/Warsaw", accounts: 100, interactions: 3_000), spec.teams[0]]
        #expect(throws: FixtureError("team china-rail already exists; generate into another team name or database")) {
            try YearLoader.load(try FreightYear.plan(spec), into: connection)
        }
        #expect(try YearLoader.digest(team: "china-rail", connection) == before)
        #expect(try YearLoader.stageCounts(team: "warsaw-hub", connection)["active"] == 90, "each team loads in its own transaction")
    }
}
