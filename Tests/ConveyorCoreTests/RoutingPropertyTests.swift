import ConveyorCore
import Foundation
import SeededRandom
import Testing

/// One random scenario: a team, a batch of accounts, settings and the decision time.
struct Scenario {
    var team: [Candidate]
    var batch: [RoutingRequest]
    var settings: RoutingSettings
    var now: Date

    static let skillPool = ["air", "rail", "sea", "customs"]

    init(seed: UInt64) {
        var rng = SplitMix64(state: seed)
        now = t0
        let size = Int.random(in: 0...10, using: &rng)
        // Ids are distinct but not in input order, and few distinct timestamps make ties likely.
        let ids = Array(Set((0..<size).map { _ in Int64.random(in: 1...40, using: &rng) })).shuffled(using: &rng)
        team = ids.map { id in
            let capacity = Int.random(in: 0...8, using: &rng)
            return Candidate(
                id: id,
                ref: "r\(id)",
                role: [RepRole.accountManager, .accountManager, .accountManager, .closer, .leadGenerator]
                    .randomElement(using: &rng)!,
                active: Double.random(in: 0..<1, using: &rng) < 0.85,
                awayUntil: [nil, nil, nil, t0.addingTimeInterval(-60), t0, t0.addingTimeInterval(60)]
                    .randomElement(using: &rng)!,
                capacity: capacity,
                skills: Set(Self.skillPool.filter { _ in Bool.random(using: &rng) }),
                owned: Int.random(in: 0...capacity + 1, using: &rng),
                lastAssignedAt: [nil, t0.addingTimeInterval(-300), t0.addingTimeInterval(-200), t0.addingTimeInterval(-100)]
                    .randomElement(using: &rng)!
            )
        }
        batch = (0..<Int.random(in: 1...20, using: &rng)).map { i in
            RoutingRequest(
                accountId: Int64(i),
                hunterId: Bool.random(using: &rng) ? ids.randomElement(using: &rng) : nil,
                needs: Self.skillPool.filter { _ in Double.random(in: 0..<1, using: &rng) < 0.15 },
                excludedRepIds: Set(ids.filter { _ in Double.random(in: 0..<1, using: &rng) < 0.1 })
            )
        }
        settings = RoutingSettings(skillsFallback: Bool.random(using: &rng))
    }
}

/// The routing rules of docs/sql.md ("Routing") restated independently of the implementation.
enum Reference {
    static func reasons(_ c: Candidate, _ r: RoutingRequest, now: Date) -> [Exclusion] {
        var out: [Exclusion] = []
        if c.role != .accountManager { out.append(.notAccountManager) }
        if !c.active { out.append(.inactive) }
        if let until = c.awayUntil, until > now { out.append(.away) }
        if r.hunterId == c.id { out.append(.hunter) }
        if r.excludedRepIds.contains(c.id) { out.append(.departing) }
        if !(c.owned < c.capacity) { out.append(.atCapacity) }
        if !Set(r.needs).isSubset(of: c.skills) { out.append(.skills) }
        return out
    }

    /// Whether `a` is preferred: utilization by cross products, then never/earliest assigned, then id.
    static func better(_ a: Candidate, than b: Candidate) -> Bool {
        let ua = a.owned * b.capacity, ub = b.owned * a.capacity
        if ua != ub { return ua < ub }
        switch (a.lastAssignedAt, b.lastAssignedAt) {
        case let (x?, y?) where x != y: return x < y
        case (nil, _?): return true
        case (_?, nil): return false
        default: return a.id < b.id
        }
    }
}

@Suite struct RoutingPropertyTests {
    static let seeds: [UInt64] = (0..<500).map { 0xC0FFEE &+ UInt64($0) }

    @Test func invariantsHoldOverRandomTeamsAndBatches() {
        var chosenCount = 0, waitingCount = 0, fallbackCount = 0
        var reasonsSeen: Set<Exclusion> = []
        for seed in Self.seeds {
            let s = Scenario(seed: seed)
            let policy = RoutingPolicy(settings: s.settings)
            var reps = s.team
            for request in s.batch {
                let before = reps
                let decision = policy.route(request, candidates: &reps, now: s.now)
                let reasons = before.map { Reference.reasons($0, request, now: s.now) }
                var pool = before.indices.filter { reasons[$0].isEmpty }
                let fallback = pool.isEmpty && s.settings.skillsFallback
                if fallback { pool = before.indices.filter { reasons[$0] == [.skills] } }

                #expect(decision.accountId == request.accountId)
                #expect(decision.decidedAt == s.now)
                #expect(decision.candidates.map(\.repId) == before.map(\.id).sorted(), "seed \(seed)")
                for evaluation in decision.candidates {
                    let i = before.firstIndex { $0.id == evaluation.repId }!
                    #expect(evaluation.excludedBecause == reasons[i], "seed \(seed)")
                    #expect(evaluation.owned == before[i].owned && evaluation.capacity == before[i].capacity)
                    reasonsSeen.formUnion(evaluation.excludedBecause)
                }

                guard let chosenId = decision.chosenRepId else {
                    waitingCount += 1
                    #expect(pool.isEmpty, "seed \(seed): an eligible rep was left waiting")
                    #expect(decision.rule == nil && decision.fallbackUsed == false)
                    #expect(decision.waitingReason?.hasPrefix("no ") == true)
                    #expect(reps == before, "seed \(seed): a waiting decision changed load")
                    continue
                }
                chosenCount += 1
                let w = before.firstIndex { $0.id == chosenId }!
                let winner = before[w]
                #expect(pool.contains(w), "seed \(seed): chose an ineligible rep")
                #expect(winner.role == .accountManager && winner.active)
                #expect(winner.awayUntil.map { $0 <= s.now } ?? true)
                #expect(winner.id != request.hunterId && !request.excludedRepIds.contains(winner.id))
                #expect(reps[w].owned == winner.owned + 1 && reps[w].owned <= winner.capacity, "seed \(seed): over capacity")
                #expect(reps[w].lastAssignedAt == s.now)
                #expect(decision.fallbackUsed == fallback)
                if fallback { fallbackCount += 1 }
                #expect(decision.waitingReason == nil)
                for other in pool where other != w {
                    #expect(!Reference.better(before[other], than: winner), "seed \(seed): \(before[other].id) beats \(chosenId)")
                }
                var unchanged = reps
                unchanged[w] = winner
                #expect(unchanged == before, "seed \(seed): only the chosen rep's load changes")

                let runnerUp = pool.filter { $0 != w }.min { Reference.better(before[$0], than: before[$1]) }
                let expectedRule: ChoiceRule = switch runnerUp.map({ before[$0] }) {
                case nil: .onlyCandidate
                case let r? where winner.owned * r.capacity != r.owned * winner.capacity: .lowestUtilization
                case let r? where winner.lastAssignedAt != r.lastAssignedAt: .leastRecentlyAssigned
                case _?: .lowestId
                }
                #expect(decision.rule == expectedRule, "seed \(seed)")
            }
        }
        // The generator must exercise every branch, or the checks above prove little.
        #expect(chosenCount > 1000 && waitingCount > 1000 && fallbackCount > 50, "\(chosenCount) \(waitingCount) \(fallbackCount)")
        #expect(reasonsSeen == Set(Exclusion.allCases))
    }

    @Test func deterministicAndBatchEqualsOneByOne() {
        for seed in Self.seeds {
            let s = Scenario(seed: seed)
            let policy = RoutingPolicy(settings: s.settings)
            var a = s.team, b = s.team, c = s.team
            let first = policy.route(batch: s.batch, candidates: &a, now: s.now)
            let second = policy.route(batch: s.batch, candidates: &b, now: s.now)
            let single = s.batch.map { policy.route($0, candidates: &c, now: s.now) }
            #expect(first == second && a == b, "seed \(seed): not deterministic")
            #expect(first == single && a == c, "seed \(seed): batch differs from one by one")
            // Input order of the team does not matter for the decisions.
            var reversed = Array(s.team.reversed())
            let fromReversed = policy.route(batch: s.batch, candidates: &reversed, now: s.now)
            #expect(fromReversed == first, "seed \(seed): depends on input order")
        }
    }

    /// The summary a handoff stores says what the full table says: the same
    /// choices, and counts, the chosen and the runner-up taken from the table.
    @Test func theSummaryAgreesWithTheFullTable() {
        for seed in Self.seeds {
            let s = Scenario(seed: seed)
            var fullTeam = s.team, summaryTeam = s.team
            let full = RoutingPolicy(settings: s.settings, detail: .full).route(batch: s.batch, candidates: &fullTeam, now: s.now)
            let summary = RoutingPolicy(settings: s.settings, detail: .summary).route(batch: s.batch, candidates: &summaryTeam, now: s.now)
            #expect(fullTeam == summaryTeam, "seed \(seed)")
            for (f, d) in zip(full, summary) {
                #expect(d.candidates.isEmpty)
                var stripped = f
                stripped.candidates = []
                #expect(stripped == d, "seed \(seed)")
                #expect(f.considered == f.candidates.count && f.eligible == f.candidates.count { $0.excludedBecause.isEmpty })
                let managers = f.candidates.filter { $0.role == .accountManager }
                for reason in Exclusion.allCases {
                    #expect(f.excludedCounts[reason] == managers.count { $0.excludedBecause.contains(reason) }, "seed \(seed) \(reason)")
                }
                #expect(f.chosen == f.candidates.first { $0.repId == f.chosenRepId })
                if let runnerUp = f.runnerUp { #expect(f.candidates.contains(runnerUp) && runnerUp.repId != f.chosenRepId) }
            }
        }
    }

    @Test func rulesAcrossRandomRunsAllOccur() {
        var rules: Set<String> = []
        for seed in Self.seeds {
            let s = Scenario(seed: seed)
            var reps = s.team
            for d in RoutingPolicy(settings: s.settings).route(batch: s.batch, candidates: &reps, now: s.now) {
                if let rule = d.rule { rules.insert(rule.rawValue) }
            }
        }
        #expect(rules == ["lowest_utilization", "least_recently_assigned", "lowest_id", "only_candidate"])
    }
}
