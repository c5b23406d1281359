import ConveyorFixtures
import Foundation
import Testing

/// The generated year's plan (ConveyorFixtures): determinism, shares, sizes, ground truth.
@Suite struct FreightYearTests {
    static let asOf = Date(timeIntervalSince1970: 1_796_000_000)

    static func spec(seed: UInt64 = 42, accounts: Int = 1_000, interactions: Int = 50_000) -> YearSpec {
        YearSpec(seed: seed, asOf: asOf, teams: [
            TeamSize(name: "china-rail", timeZone: "Asia/Shanghai", accounts: accounts, interactions: interactions),
            TeamSize(name: "warsaw-hub", timeZone: "Europe/Warsaw", accounts: 200, interactions: 6_000),
        ])
    }

    @Test func theSameSeedGivesTheSameYearAndAnotherSeedAnother() throws {
        let first = try FreightYear.plan(Self.spec())
        #expect(first == (try FreightYear.plan(Self.spec())))
        let other = try FreightYear.plan(Self.spec(seed: 43))
        #expect(first.teams[0].accounts != other.teams[0].accounts)
        #expect(first.truth.alerts != other.truth.alerts)
    }

    @Test func eachPatternHasExactlyItsShareOfTheAccounts() throws {
        let plan = try FreightYear.plan(Self.spec())
        let counts = plan.teams[0].patternCounts
        for (pattern, share) in AttachmentMix.standard.shares {
            #expect(counts[pattern] == Int(share * 1_000), "\(pattern)")
        }
        #expect(counts[.healthy] == 1_000 - AttachmentMix.standard.shares.values.map { Int($0 * 1_000) }.reduce(0, +))
        #expect(plan.teams[1].patternCounts[.bowTie] == 12)
        #expect(plan.truth.scanned["china-rail"] == 900)
        #expect(plan.truth.notScored["china-rail"] == 80)
    }

    @Test func everyTeamHasExactlyTheInteractionsAsked() throws {
        let plan = try FreightYear.plan(Self.spec(interactions: 73_421))
        #expect(plan.teams[0].accounts.map(\.interactionCount).reduce(0, +) == 73_421)
        #expect(plan.teams[1].accounts.map(\.interactionCount).reduce(0, +) == 6_000)
    }

    @Test func teamsHaveAllThreeRolesAndManagersRoomForTheirAccounts() throws {
        let team = try FreightYear.plan(Self.spec()).teams[0]
        #expect(Set(team.reps.map(\.role)) == ["lead_generator", "closer", "account_manager"])
        for (index, rep) in team.reps.enumerated() where rep.role == "account_manager" {
            let owned = team.accounts.count { $0.owner == index && $0.pattern.stage == "active" }
            #expect(rep.capacity > owned, "\(rep.ref)")
        }
        for account in team.accounts where account.pattern.stage == "active" {
            #expect(team.reps[account.owner!].role == "account_manager")
            #expect(team.reps[account.hunter!].role == "closer")
            #expect(account.handedOffDaysAgo != nil)
            #expect(Set(account.contacts).count == 3)
        }
        #expect(Set(team.accounts.flatMap(\.contacts)).count > 100, "contacts look like many different people")
    }

    @Test func theTruthListsEveryPatternsKindsOverlapsIncluded() throws {
        let plan = try FreightYear.plan(Self.spec())
        let team = plan.teams[0]
        let truth = plan.truth.alerts(team: "china-rail")
        #expect(truth.count == team.accounts.map(\.pattern.expectedKinds.count).reduce(0, +))
        let noBackup = try #require(team.accounts.first { $0.pattern == .noBackup })
        #expect(truth.filter { $0.account == noBackup.ref }.map(\.kind) == [.noBackup, .singleThreaded])
        let never = try #require(team.accounts.first { $0.pattern == .hunterNeverLetGo })
        #expect(Set(truth.filter { $0.account == never.ref }.map(\.rep)) == [team.reps[never.hunter!].ref])
        #expect(truth.filter { $0.account == never.ref }.count == 4)
        #expect(plan.truth.overlaps.contains { $0.hasPrefix("no_backup implies single_threaded") })
    }

    @Test func ruleFiguresStayClearOfEveryThreshold() throws {
        let plan = try FreightYear.plan(Self.spec(accounts: 2_000, interactions: 60_000))
        for team in plan.teams {
            for account in team.accounts {
                let expected = Set(account.pattern.expectedKinds)
                for nudge in [-0.05, 0.05] {
                    let kinds = RuleOracle(account: account, shareNudge: nudge, countNudge: nudge > 0 ? 2 : -2).kinds
                    #expect(kinds == expected, "\(account.ref) \(account.pattern) at thresholds nudged by \(nudge)")
                }
            }
        }
    }

    @Test func badSizesAreRefusedClearly() {
        func refusal(_ teams: [TeamSize], mix: AttachmentMix = .standard) -> String {
            do {
                _ = try FreightYear.plan(YearSpec(seed: 1, asOf: Self.asOf, teams: teams, mix: mix))
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let good = TeamSize(name: "rail", timeZone: "Europe/Berlin", accounts: 100, interactions: 5_000)
        func with(_ change: (inout TeamSize) -> Void) -> [TeamSize] {
            var team = good
            change(&team)
            return [team]
        }
        #expect(refusal([good]) == "accepted")
        #expect(refusal(with { $0.accounts = 99 }) == "team rail: accounts must be between 100 and 2000000, got 99")
        #expect(refusal(with { $0.interactions = 2_399 })
            == "team rail: 100 accounts need between 2400 and 200000 interactions (24 to 2000 per account), got 2399")
        #expect(refusal(with { $0.interactions = 200_001 }).hasSuffix("got 200001"))
        #expect(refusal(with { $0.timeZone = "Mars/Olympus" }) == "team rail: Mars/Olympus is not an IANA time zone (e.g. Asia/Shanghai)")
        #expect(refusal(with { $0.name = " " }) == "a team name is 1 to 200 characters, not all spaces")
        #expect(refusal([good], mix: AttachmentMix(shares: [.bowTie: 0.7, .noBackup: 0.4])) == "the pattern shares add up to more than 1")
        #expect(refusal([good], mix: AttachmentMix(shares: [.bowTie: -0.1])) == "every pattern share must be between 0 and 1")
        #expect(refusal([good, good]) == "team names must differ")
        #expect(refusal([]) == "a year needs at least one team")
    }
}
