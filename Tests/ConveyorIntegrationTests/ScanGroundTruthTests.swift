import ConveyorFixtures
import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing

/// The attachment scan against generated years: `conveyor.scan_team` and
/// `scan.run` through the real daemon raise exactly the generator's ground
/// truth (no alert missing, none extra, each on its rep), and the outcome's
/// counts agree with it.
@Suite struct ScanGroundTruthTests {
    static let teams = [
        TeamSize(name: "china-rail", timeZone: "Asia/Shanghai", accounts: 800, interactions: 40_000),
        TeamSize(name: "warsaw-hub", timeZone: "Europe/Warsaw", accounts: 300, interactions: 12_000),
    ]

    static func loaded(seed: UInt64, teams: [TeamSize]) throws -> (plan: YearPlan, conninfo: String, connection: PostgresConnection) {
        let plan = try FreightYear.plan(YearSpec(seed: seed, asOf: Date(), teams: teams))
        let conninfo = try TestPostgres.makeDatabase()
        let connection = try TestPostgres.connect(conninfo)
        try YearLoader.load(plan, into: connection)
        return (plan, conninfo, connection)
    }

    static func expectTruth(_ found: [ExpectedAlert], _ truth: GroundTruth, team: String) {
        let expected = truth.alerts(team: team)
        #expect(Set(expected).subtracting(found).sorted() == [], "missing in \(team)")
        #expect(Set(found).subtracting(expected).sorted() == [], "extra in \(team)")
        #expect(found.count == expected.count, "one alert per account and kind in \(team)")
    }

    @Test func scanTeamFindsExactlyTheGroundTruthAndARescanOnlyUpdates() throws {
        let (plan, _, connection) = try Self.loaded(seed: 11, teams: Self.teams)
        for team in Self.teams {
            let id = try connection.query("select id from conveyor.teams where name = $1", [team.name])[0]["id"].int64()
            func scan() throws -> [String: JSONValue] {
                let text = try connection.query("select conveyor.scan_team($1)::text as outcome", [id])[0]["outcome"].string()
                return try JSONValue(parsing: text).objectValue ?? [:]
            }
            let expected = plan.truth.alerts(team: team.name).count
            let first = try scan()
            Self.expectTruth(try RawRules.raised(team: team.name, connection), plan.truth, team: team.name)
            #expect(first["scanned"]?.intValue == Int64(plan.truth.scanned[team.name] ?? -1))
            #expect(first["not_scored"]?.intValue == Int64(plan.truth.notScored[team.name] ?? -1))
            #expect(first["opened"]?.intValue == Int64(expected))
            #expect(first["resolved"]?.intValue == 0)
            let again = try scan()
            #expect(again["opened"]?.intValue == 0)
            #expect(again["updated"]?.intValue == Int64(expected))
            #expect(again["resolved"]?.intValue == 0)
            Self.expectTruth(try RawRules.raised(team: team.name, connection), plan.truth, team: team.name)
        }
    }

    @Test func scanRunThroughTheDaemonFindsExactlyTheGroundTruth() throws {
        let (plan, conninfo, connection) = try Self.loaded(seed: 12, teams: [Self.teams[1]])
        let daemon = try DaemonProcess(database: conninfo, environment: ["CONVEYOR_LOG_LEVEL": "notice"])
        defer { daemon.stop() }
        let outcome = try daemon.connect().result("scan.run", ["team": "warsaw-hub"])
        #expect(outcome["scanned"]?.intValue == Int64(plan.truth.scanned["warsaw-hub"] ?? -1))
        #expect(outcome["not_scored"]?.intValue == Int64(plan.truth.notScored["warsaw-hub"] ?? -1))
        Self.expectTruth(try RawRules.raised(team: "warsaw-hub", connection), plan.truth, team: "warsaw-hub")
    }
}
