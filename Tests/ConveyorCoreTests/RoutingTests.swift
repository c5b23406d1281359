import ConveyorCore
import Foundation
import Testing

let t0 = Date(timeIntervalSince1970: 1_700_000_000)

func manager(
    _ id: Int64, capacity: Int = 10, owned: Int = 0, skills: Set<String> = [], lastAssignedAt: Date? = nil
) -> Candidate {
    Candidate(
        id: id, ref: "am\(id)", role: .accountManager, capacity: capacity, skills: skills, owned: owned,
        lastAssignedAt: lastAssignedAt
    )
}

@Suite struct RolesTests {
    @Test func acquisitionRoles() {
        #expect(RepRole.allCases.filter(\.isAcquisition) == [.leadGenerator, .closer])
    }

    @Test func rawValuesMatchTheSQLSurface() {
        #expect(RepRole.allCases.map(\.rawValue) == ["lead_generator", "closer", "account_manager"])
        #expect(AccountStage.allCases.map(\.rawValue) == ["lead", "qualified", "won", "active", "churned"])
    }
}

@Suite struct ExclusionTests {
    /// A rep that is excluded for exactly `reason`, and a request that makes it so.
    static func setUp(_ reason: Exclusion) -> (Candidate, RoutingRequest) {
        var rep = manager(7, capacity: 3, owned: 1, skills: ["customs"])
        var request = RoutingRequest(accountId: 1, hunterId: 99, needs: ["customs"])
        switch reason {
        case .notAccountManager: rep.role = .closer
        case .inactive: rep.active = false
        case .away: rep.awayUntil = t0.addingTimeInterval(1)
        case .hunter: request.hunterId = 7
        case .departing: request.excludedRepIds = [7]
        case .atCapacity: rep.owned = 3
        case .skills: request.needs = ["customs", "rail"]
        }
        return (rep, request)
    }

    @Test(arguments: Exclusion.allCases)
    func eachReasonAloneExcludes(_ reason: Exclusion) {
        let (rep, request) = Self.setUp(reason)
        var team = [rep]
        let decision = RoutingPolicy().route(request, candidates: &team, now: t0)
        #expect(decision.chosenRepId == nil)
        #expect(decision.rule == nil)
        #expect(decision.waitingReason != nil)
        #expect(decision.candidates.map(\.excludedBecause) == [[reason]])
        #expect(team == [rep], "a waiting decision changes no load")
    }

    @Test func withoutAnyReasonTheRepIsChosen() {
        var team = [manager(7, capacity: 3, owned: 1, skills: ["customs"])]
        let request = RoutingRequest(accountId: 1, hunterId: 99, needs: ["customs"])
        let decision = RoutingPolicy().route(request, candidates: &team, now: t0)
        #expect(decision.chosenRepId == 7)
        #expect(decision.rule == .onlyCandidate)
        #expect(decision.waitingReason == nil)
        #expect(decision.candidates.map(\.excludedBecause) == [[]])
        #expect(team[0].owned == 2)
        #expect(team[0].lastAssignedAt == t0)
    }

    @Test func allReasonsAreListedInDeclarationOrder() {
        let rep = Candidate(
            id: 5, ref: "lg", role: .leadGenerator, active: false, awayUntil: t0.addingTimeInterval(3600),
            capacity: 0, skills: [], owned: 0
        )
        var team = [rep]
        let request = RoutingRequest(accountId: 1, hunterId: 5, needs: ["x"], excludedRepIds: [5])
        let decision = RoutingPolicy().route(request, candidates: &team, now: t0)
        #expect(decision.candidates[0].excludedBecause == Exclusion.allCases)
        #expect(decision.candidates[0].excludedBecause == [
            .notAccountManager, .inactive, .away, .hunter, .departing, .atCapacity, .skills,
        ])
    }

    @Test func awayEndsExactlyAtAwayUntil() {
        var rep = manager(1)
        rep.awayUntil = t0
        var team = [rep]
        #expect(RoutingPolicy().route(RoutingRequest(accountId: 1), candidates: &team, now: t0).chosenRepId == 1)
        team[0].awayUntil = t0.addingTimeInterval(0.001)
        #expect(RoutingPolicy().route(RoutingRequest(accountId: 2), candidates: &team, now: t0).chosenRepId == nil)
    }

    @Test func capacityZeroIsNeverEligible() {
        var team = [manager(1, capacity: 0)]
        let decision = RoutingPolicy().route(RoutingRequest(accountId: 1), candidates: &team, now: t0)
        #expect(decision.chosenRepId == nil)
        #expect(decision.candidates[0].excludedBecause == [.atCapacity])
        #expect(decision.candidates[0].utilization == 1)
    }

    @Test func overCapacityIsExcluded() {
        var team = [manager(1, capacity: 2, owned: 5)]
        let decision = RoutingPolicy().route(RoutingRequest(accountId: 1), candidates: &team, now: t0)
        #expect(decision.candidates[0].excludedBecause == [.atCapacity])
        #expect(decision.candidates[0].utilization == 2.5)
    }

    @Test func skillsAreCaseSensitiveAndNeedsMayBeASubset() {
        var team = [manager(1, skills: ["Customs"]), manager(2, skills: ["customs", "rail", "air"])]
        let decision = RoutingPolicy().route(RoutingRequest(accountId: 1, needs: ["customs", "rail"]), candidates: &team, now: t0)
        #expect(decision.chosenRepId == 2)
        #expect(decision.candidates.map(\.excludedBecause) == [[.skills], []])
    }

    @Test func acquisitionRolesAreNeverEligibleEvenWhenOtherwiseIdeal() {
        var team = RepRole.allCases.filter(\.isAcquisition).enumerated().map { i, role in
            Candidate(id: Int64(i + 1), ref: "h\(i)", role: role, capacity: 100, skills: ["customs"])
        }
        let decision = RoutingPolicy(settings: .init(skillsFallback: true))
            .route(RoutingRequest(accountId: 1), candidates: &team, now: t0)
        #expect(decision.chosenRepId == nil)
        #expect(decision.waitingReason == "no account manager in the team")
    }
}

@Suite struct FallbackTests {
    let team = [
        manager(1, capacity: 5, owned: 4, skills: ["air"]),
        manager(2, capacity: 5, owned: 1, skills: []),
        manager(3, capacity: 5, owned: 0, skills: ["rail"]).with { $0.active = false },
        manager(4, capacity: 1, owned: 1, skills: []),
    ]

    @Test func strictByDefault() {
        var reps = team
        let decision = RoutingPolicy().route(RoutingRequest(accountId: 9, needs: ["rail"]), candidates: &reps, now: t0)
        #expect(decision.chosenRepId == nil)
        #expect(decision.fallbackUsed == false)
        #expect(decision.waitingReason == "no active account manager with capacity and skills [rail] (of 4 account managers: 1 inactive, 1 at capacity, 3 missing skills)")
        #expect(reps == team)
    }

    @Test func fallbackChoosesAmongThoseExcludedOnlyForSkills() {
        var reps = team
        let decision = RoutingPolicy(settings: .init(skillsFallback: true))
            .route(RoutingRequest(accountId: 9, needs: ["rail"]), candidates: &reps, now: t0)
        // 3 has the skill but is inactive; 4 is at capacity; 1 and 2 lack only the skill.
        #expect(decision.chosenRepId == 2)
        #expect(decision.fallbackUsed)
        #expect(decision.rule == .lowestUtilization)
        #expect(decision.candidates.first { $0.repId == 2 }?.excludedBecause == [.skills])
        #expect(decision.waitingReason == nil)
        #expect(reps[1].owned == 2)
    }

    @Test func fallbackIsNotUsedWhenSomeoneHasTheSkills() {
        var reps = team
        reps[2].active = true
        let decision = RoutingPolicy(settings: .init(skillsFallback: true))
            .route(RoutingRequest(accountId: 9, needs: ["rail"]), candidates: &reps, now: t0)
        #expect(decision.chosenRepId == 3)
        #expect(decision.fallbackUsed == false)
        #expect(decision.rule == .onlyCandidate)
    }

    @Test func fallbackWithNobodyLeftWaits() {
        var reps = [manager(1, capacity: 1, owned: 1), manager(2, skills: ["rail"]).with { $0.awayUntil = .distantFuture }]
        let decision = RoutingPolicy(settings: .init(skillsFallback: true))
            .route(RoutingRequest(accountId: 9, needs: ["rail"]), candidates: &reps, now: t0)
        #expect(decision.chosenRepId == nil)
        #expect(decision.fallbackUsed == false)
        #expect(decision.waitingReason == "no active account manager with capacity (of 2 account managers: 1 away, 1 at capacity, 1 missing skills)")
    }
}

@Suite struct ChoiceTests {
    func choose(_ team: [Candidate], hunter: Int64? = nil) -> RoutingDecision {
        var reps = team
        return RoutingPolicy().route(RoutingRequest(accountId: 1, hunterId: hunter), candidates: &reps, now: t0)
    }

    @Test func lowestUtilizationWins() {
        let d = choose([manager(1, capacity: 10, owned: 5), manager(2, capacity: 3, owned: 1), manager(3, capacity: 4, owned: 2)])
        #expect(d.chosenRepId == 2)
        #expect(d.rule == .lowestUtilization)
    }

    @Test func utilizationIsComparedExactly() {
        // 1/3 and 2/6 are equal, so the tie falls through to the lowest id.
        let tie = choose([manager(2, capacity: 6, owned: 2, lastAssignedAt: t0), manager(1, capacity: 3, owned: 1, lastAssignedAt: t0)])
        #expect(tie.chosenRepId == 1)
        #expect(tie.rule == .lowestId)
        let close = choose([manager(1, capacity: 3, owned: 1), manager(2, capacity: 10, owned: 3)])
        #expect(close.chosenRepId == 2)
        #expect(close.rule == .lowestUtilization)
        // As doubles both are 1.0 (a float comparison would fall through to id 1); exactly, 2 is
        // lower. The products exceed Int64 and must neither trap nor wrap.
        let huge = choose([manager(1, capacity: .max, owned: .max - 1), manager(2, capacity: .max - 1, owned: .max - 2)])
        #expect(huge.chosenRepId == 2) // (max-2)/(max-1) < (max-1)/max
        #expect(huge.rule == .lowestUtilization)
    }

    @Test func leastRecentlyAssignedBreaksUtilizationTies() {
        let d = choose([
            manager(1, owned: 2, lastAssignedAt: t0),
            manager(2, owned: 2, lastAssignedAt: t0.addingTimeInterval(-60)),
            manager(3, owned: 2, lastAssignedAt: t0.addingTimeInterval(-30)),
        ])
        #expect(d.chosenRepId == 2)
        #expect(d.rule == .leastRecentlyAssigned)
    }

    @Test func neverAssignedSortsFirst() {
        let d = choose([manager(1, owned: 0, lastAssignedAt: .distantPast), manager(2, owned: 0)])
        #expect(d.chosenRepId == 2)
        #expect(d.rule == .leastRecentlyAssigned)
    }

    @Test func lowestIdBreaksFullTies() {
        let d = choose([manager(9, owned: 1, lastAssignedAt: t0), manager(4, owned: 1, lastAssignedAt: t0), manager(6, owned: 1, lastAssignedAt: t0)])
        #expect(d.chosenRepId == 4)
        #expect(d.rule == .lowestId)
        #expect(d.candidates.map(\.repId) == [4, 6, 9])
    }

    @Test func ruleComparesWithTheRunnerUpNotTheExcluded() {
        // The hunter would tie on everything but is excluded; the runner-up differs by utilization.
        let d = choose([manager(1), manager(2), manager(3, owned: 1)], hunter: 1)
        #expect(d.chosenRepId == 2)
        #expect(d.rule == .lowestUtilization)
        let only = choose([manager(1), manager(2)], hunter: 1)
        #expect(only.chosenRepId == 2)
        #expect(only.rule == .onlyCandidate)
    }

    @Test func newcomerWithZeroLoadIsPreferred() {
        var team = (1...3).map { manager($0, capacity: 20, owned: 12, lastAssignedAt: t0.addingTimeInterval(-Double($0))) }
        team.append(manager(10, capacity: 5))
        let d = choose(team)
        #expect(d.chosenRepId == 10)
        #expect(d.rule == .lowestUtilization)
    }

    @Test func theHunterNeverGetsItBack() {
        var team = [manager(1), manager(2, owned: 9)]
        let d = RoutingPolicy().route(RoutingRequest(accountId: 1, hunterId: 1), candidates: &team, now: t0)
        #expect(d.chosenRepId == 2)
        #expect(d.candidates.map(\.excludedBecause) == [[.hunter], []])
    }

    @Test func redistributionSkipsTheDepartingRepAndTheHunter() {
        var team = [manager(1), manager(2), manager(3, owned: 5)]
        let d = RoutingPolicy().route(RoutingRequest(accountId: 1, hunterId: 2, excludedRepIds: [1]), candidates: &team, now: t0)
        #expect(d.chosenRepId == 3)
        #expect(d.candidates.map(\.excludedBecause) == [[.departing], [.hunter], []])
    }

    @Test func evaluationsShowTheLoadBeforeTheDecision() {
        var team = [manager(2, capacity: 4, owned: 1), manager(1, capacity: 4, owned: 3)]
        let d = RoutingPolicy().route(RoutingRequest(accountId: 1), candidates: &team, now: t0)
        #expect(d.chosenRepId == 2)
        #expect(d.candidates.map(\.repId) == [1, 2])
        #expect(d.candidates.map(\.owned) == [3, 1])
        #expect(d.candidates.map(\.utilization) == [0.75, 0.25])
        #expect(d.candidates.map(\.lastAssignedAt) == [nil, nil])
        #expect(d.decidedAt == t0)
        #expect(team.map(\.owned) == [2, 3])
        #expect(team.map(\.lastAssignedAt) == [t0, nil])
    }
}

@Suite struct FairnessTests {
    func distribute(_ team: [Candidate], accounts: Int, spacing: TimeInterval = 1) -> ([Candidate], [RoutingDecision]) {
        var reps = team
        let policy = RoutingPolicy()
        let decisions = (0..<accounts).map { i in
            policy.route(RoutingRequest(accountId: Int64(i)), candidates: &reps, now: t0.addingTimeInterval(Double(i) * spacing))
        }
        return (reps, decisions)
    }

    @Test func capacityProportionalSplit() {
        let (reps, decisions) = distribute([manager(1, capacity: 30), manager(2, capacity: 15), manager(3, capacity: 15)], accounts: 40)
        #expect(reps.map(\.owned) == [20, 10, 10])
        #expect(decisions.allSatisfy { $0.chosenRepId != nil })
    }

    @Test func twoEqualManagersShareAndAlternate() {
        let (reps, decisions) = distribute([manager(1, capacity: 40), manager(2, capacity: 40)], accounts: 30)
        #expect(reps.map(\.owned) == [15, 15])
        let chosen = decisions.compactMap(\.chosenRepId)
        #expect(chosen == (0..<30).map { Int64($0 % 2 + 1) })
        #expect(zip(chosen, chosen.dropFirst()).allSatisfy { $0 != $1 }, "lastAssignedAt alternates")
        #expect(reps.map(\.lastAssignedAt) == [t0.addingTimeInterval(28), t0.addingTimeInterval(29)])
    }

    @Test func twoEqualManagersShareInOneBatchAtOneInstant() {
        var reps = [manager(1, capacity: 40), manager(2, capacity: 40)]
        let decisions = RoutingPolicy().route(batch: (0..<30).map { RoutingRequest(accountId: Int64($0)) }, candidates: &reps, now: t0)
        #expect(reps.map(\.owned) == [15, 15])
        #expect(decisions.map(\.rule) == (0..<30).map { $0 % 2 == 0 ? .lowestId : .lowestUtilization })
    }

    @Test func fillsToCapacityThenWaits() {
        let (reps, decisions) = distribute([manager(1, capacity: 2), manager(2, capacity: 1)], accounts: 5)
        #expect(reps.map(\.owned) == [2, 1])
        #expect(decisions.map(\.chosenRepId) == [1, 2, 1, nil, nil])
        #expect(decisions[3].waitingReason == "no active account manager with capacity (of 2 account managers: 2 at capacity)")
    }

    @Test func newcomerCatchesUpBeforeOthersGetMore() {
        var team = [manager(1, capacity: 10, owned: 6), manager(2, capacity: 10, owned: 6)]
        team.append(manager(3, capacity: 10))
        let (reps, decisions) = distribute(team, accounts: 6)
        #expect(decisions.map(\.chosenRepId) == [3, 3, 3, 3, 3, 3])
        #expect(reps.map(\.owned) == [6, 6, 6])
    }

    @Test func batchEqualsOneByOne() {
        let team = [
            manager(1, capacity: 3, owned: 1, skills: ["rail"]), manager(2, capacity: 5, skills: ["air", "rail"]),
            manager(3, capacity: 2, owned: 2), manager(4, capacity: 4, lastAssignedAt: t0),
        ]
        let requests = (0..<12).map { (i: Int) -> RoutingRequest in
            let needs: [String] = i % 3 == 0 ? ["rail"] : []
            let excluded: Set<Int64> = i % 4 == 0 ? [2] : []
            return RoutingRequest(accountId: Int64(i), hunterId: Int64(i % 5), needs: needs, excludedRepIds: excluded)
        }
        let policy = RoutingPolicy()
        var batched = team
        let batchDecisions = policy.route(batch: requests, candidates: &batched, now: t0)
        var single = team
        let singleDecisions = requests.map { policy.route($0, candidates: &single, now: t0) }
        #expect(batchDecisions == singleDecisions)
        #expect(batched == single)
        #expect(batchDecisions.contains { $0.chosenRepId == nil } && batchDecisions.contains { $0.chosenRepId != nil })
    }
}

extension Candidate {
    func with(_ change: (inout Candidate) -> Void) -> Candidate {
        var copy = self
        change(&copy)
        return copy
    }
}
