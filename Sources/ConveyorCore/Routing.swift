import Foundation

/// A rep of the team as the router sees it at decision time.
public struct Candidate: Sendable, Equatable {
    public var id: Int64
    public var ref: String
    public var role: RepRole
    public var active: Bool
    /// Away until this instant; `nil`, or an instant at or before the decision time, means present.
    public var awayUntil: Date?
    /// Accounts the rep may own; 0 (or less) means never eligible.
    public var capacity: Int
    public var skills: Set<String>
    /// Accounts owned in stage `active`.
    public var owned: Int
    /// The last time an account was routed to the rep; `nil` (never) sorts first.
    public var lastAssignedAt: Date?

    public init(
        id: Int64, ref: String, role: RepRole, active: Bool = true, awayUntil: Date? = nil,
        capacity: Int, skills: Set<String> = [], owned: Int = 0, lastAssignedAt: Date? = nil
    ) {
        self.id = id
        self.ref = ref
        self.role = role
        self.active = active
        self.awayUntil = awayUntil
        self.capacity = capacity
        self.skills = skills
        self.owned = owned
        self.lastAssignedAt = lastAssignedAt
    }
}

/// One account to route.
public struct RoutingRequest: Sendable, Equatable {
    public var accountId: Int64
    /// The rep who won the account; never routed back to them.
    public var hunterId: Int64?
    /// Skills the client requires, already normalised by the caller; compared case-sensitively.
    public var needs: [String]
    /// Reps that must not receive the account, e.g. the departing rep of a redistribution.
    public var excludedRepIds: Set<Int64>

    public init(accountId: Int64, hunterId: Int64? = nil, needs: [String] = [], excludedRepIds: Set<Int64> = []) {
        self.accountId = accountId
        self.hunterId = hunterId
        self.needs = needs
        self.excludedRepIds = excludedRepIds
    }
}

/// Per-team routing settings.
public struct RoutingSettings: Sendable, Equatable {
    /// When no manager covers all needs, route among those excluded only for skills (default: strict).
    public var skillsFallback: Bool

    public init(skillsFallback: Bool = false) {
        self.skillsFallback = skillsFallback
    }
}

/// Why a rep was not eligible; a rep's reasons are always listed in declaration order.
public enum Exclusion: String, Sendable, CaseIterable {
    case notAccountManager = "not_account_manager"
    case inactive
    case away
    case hunter
    /// Listed in the request's `excludedRepIds`.
    case departing
    case atCapacity = "at_capacity"
    case skills

    /// The case's place in declaration order (its bit in `Exclusions`).
    var position: Int {
        switch self {
        case .notAccountManager: 0
        case .inactive: 1
        case .away: 2
        case .hunter: 3
        case .departing: 4
        case .atCapacity: 5
        case .skills: 6
        }
    }
}

/// A set of `Exclusion`s in one byte, bit `n` for the `n`th case: the policy
/// evaluates every candidate for every decision, and an array of reasons
/// each time would allocate.
public struct Exclusions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let notAccountManager = Exclusions(rawValue: 1 << 0)
    public static let inactive = Exclusions(rawValue: 1 << 1)
    public static let away = Exclusions(rawValue: 1 << 2)
    public static let hunter = Exclusions(rawValue: 1 << 3)
    public static let departing = Exclusions(rawValue: 1 << 4)
    public static let atCapacity = Exclusions(rawValue: 1 << 5)
    public static let skills = Exclusions(rawValue: 1 << 6)

    /// The reasons, in `Exclusion` declaration order.
    public var reasons: [Exclusion] {
        Exclusion.allCases.enumerated().compactMap { index, reason in rawValue & (1 << UInt8(index)) != 0 ? reason : nil }
    }
}

/// How many candidates each `Exclusion` excluded.
public struct ExclusionCounts: Sendable, Equatable {
    private var counts: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
    public init() {}

    public subscript(reason: Exclusion) -> Int {
        withUnsafeBytes(of: counts) { $0.load(fromByteOffset: reason.position * MemoryLayout<Int>.stride, as: Int.self) }
    }

    public static func == (lhs: ExclusionCounts, rhs: ExclusionCounts) -> Bool {
        Exclusion.allCases.allSatisfy { lhs[$0] == rhs[$0] }
    }

    mutating func add(_ exclusions: Exclusions) {
        guard !exclusions.isEmpty else { return }
        withUnsafeMutableBytes(of: &counts) { bytes in
            for bit in 0..<7 where exclusions.rawValue & (1 << UInt8(bit)) != 0 {
                let offset = bit * MemoryLayout<Int>.stride
                bytes.storeBytes(of: bytes.load(fromByteOffset: offset, as: Int.self) + 1, toByteOffset: offset, as: Int.self)
            }
        }
    }
}

/// The first criterion that separated the chosen rep from the runner-up.
public enum ChoiceRule: String, Sendable {
    case lowestUtilization = "lowest_utilization"
    case leastRecentlyAssigned = "least_recently_assigned"
    case lowestId = "lowest_id"
    case onlyCandidate = "only_candidate"
}

/// How one rep fared in a routing decision.
public struct CandidateEvaluation: Sendable, Equatable {
    public var repId: Int64
    public var role: RepRole
    public var owned: Int
    public var capacity: Int
    /// owned / capacity, for display only (the choice compares exact integers); 1 when capacity is 0.
    public var utilization: Double
    /// Every reason that applies; empty when eligible. A rep chosen by skills
    /// fallback keeps `.skills` here.
    public var exclusions: Exclusions
    /// The same, in `Exclusion` declaration order.
    public var excludedBecause: [Exclusion] { exclusions.reasons }
    public var lastAssignedAt: Date?
}

/// The outcome of routing one account: what a handoff's explanation is made of.
public struct RoutingDecision: Sendable, Equatable {
    public var accountId: Int64
    /// `nil` when nobody is eligible: the handoff waits.
    public var chosenRepId: Int64?
    /// How the chosen rep fared, and the rep that came second (`nil`: the
    /// chosen one was the only candidate, or nobody was chosen).
    public var chosen: CandidateEvaluation?
    public var runnerUp: CandidateEvaluation?
    /// How many candidates were considered, how many were eligible, and how
    /// many account managers among them each reason excluded.
    public var considered: Int
    public var eligible: Int
    public var excludedCounts: ExclusionCounts
    public var rule: ChoiceRule?
    /// The chosen rep lacks some needed skill; the team allows falling back.
    public var fallbackUsed: Bool
    /// Every rep considered, sorted by id; empty unless the policy's `detail` is `.full`.
    public var candidates: [CandidateEvaluation]
    /// Why nobody was chosen, as a sentence for people; `nil` when a rep was chosen.
    public var waitingReason: String?
    public var decidedAt: Date
}

/// The routing policy of a team: who receives a won (or redistributed) account.
///
/// Eligible: active, present account managers below capacity who are neither the hunter nor
/// excluded by the request, and whose skills cover the needs. Among them: lowest utilization
/// (compared exactly as integers), then least recently assigned (never first), then lowest id.
public struct RoutingPolicy: Sendable {
    /// How much of each decision to keep.
    public enum Detail: Sendable {
        /// The chosen rep and the runner-up, and counts: what a handoff stores.
        case summary
        /// Also every candidate's evaluation (`RoutingDecision.candidates`).
        case full
    }

    public var settings: RoutingSettings
    public var detail: Detail

    public init(settings: RoutingSettings = .init(), detail: Detail = .full) {
        self.settings = settings
        self.detail = detail
    }

    /// Routes one account against the team's reps; on success updates the chosen candidate's
    /// `owned` (+1) and `lastAssignedAt` (= `now`) in `candidates`.
    public func route(_ request: RoutingRequest, candidates: inout [Candidate], now: Date) -> RoutingDecision {
        let (decision, winner) = candidates.withUnsafeBufferPointer { decide(request, $0, now: now) }
        if let winner {
            candidates[winner].owned += 1
            candidates[winner].lastAssignedAt = now
        }
        return decision
    }

    /// The decision and the index of the chosen candidate. `candidates` is
    /// read in place (an array's subscript would copy each candidate read,
    /// a retain and release per field that holds a reference).
    private func decide(_ request: RoutingRequest, _ candidates: UnsafeBufferPointer<Candidate>, now: Date) -> (RoutingDecision, Int?) {
        // Each candidate's reasons, in a buffer that needs no heap for a team's size.
        withUnsafeTemporaryAllocation(of: Exclusions.self, capacity: candidates.count) { reasons in
            var counts = ExclusionCounts()
            var managers = 0, eligible = 0
            for index in candidates.indices {
                let found = Self.exclusions(of: candidates[index], for: request, now: now)
                reasons.initializeElement(at: index, to: found)
                if found.isEmpty { eligible += 1 }
                if candidates[index].role == .accountManager {
                    managers += 1
                    counts.add(found)
                }
            }
            // The best and the runner-up among the eligible (or, when none is and
            // the team allows it, among those excluded only for skills), in one pass each.
            func best(where admitted: Exclusions) -> (winner: Int?, runnerUp: Int?) {
                var winner: Int?, runnerUp: Int?
                for index in candidates.indices where reasons[index] == admitted {
                    if let best = winner, !Self.precedes(candidates[index], candidates[best]) {
                        if runnerUp.map({ Self.precedes(candidates[index], candidates[$0]) }) ?? true { runnerUp = index }
                    } else {
                        runnerUp = winner
                        winner = index
                    }
                }
                return (winner, runnerUp)
            }
            var (winner, runnerUp) = best(where: [])
            var fallbackUsed = false
            if winner == nil && settings.skillsFallback {
                (winner, runnerUp) = best(where: .skills)
                fallbackUsed = winner != nil
            }
            // Evaluations show the load before this decision, listed by rep id.
            var evaluations: [CandidateEvaluation] = []
            if detail == .full {
                evaluations = candidates.indices.map { Self.evaluation(of: candidates[$0], exclusions: reasons[$0]) }
                if !evaluations.indices.dropFirst().allSatisfy({ evaluations[$0 - 1].repId < evaluations[$0].repId }) {
                    evaluations.sort { $0.repId < $1.repId }
                }
            }
            var decision = RoutingDecision(
                accountId: request.accountId, chosenRepId: nil, chosen: nil, runnerUp: nil,
                considered: candidates.count, eligible: eligible, excludedCounts: counts, rule: nil, fallbackUsed: false,
                candidates: evaluations, waitingReason: nil, decidedAt: now
            )
            guard let winner else {
                decision.waitingReason = Self.waitingReason(
                    needs: request.needs, strictSkills: !settings.skillsFallback, managers: managers, counts: counts
                )
                return (decision, nil)
            }
            decision.chosenRepId = candidates[winner].id
            decision.chosen = Self.evaluation(of: candidates[winner], exclusions: reasons[winner])
            decision.runnerUp = runnerUp.map { Self.evaluation(of: candidates[$0], exclusions: reasons[$0]) }
            decision.rule = runnerUp.map { Self.separatingRule(candidates[winner], candidates[$0]) } ?? .onlyCandidate
            decision.fallbackUsed = fallbackUsed
            return (decision, winner)
        }
    }

    /// Routes in order, carrying load between decisions: equal to calling `route` one by one.
    public func route(batch: [RoutingRequest], candidates: inout [Candidate], now: Date) -> [RoutingDecision] {
        batch.map { route($0, candidates: &candidates, now: now) }
    }

    // MARK: - Rules

    /// Every reason that applies (no closure over `rep`, which would copy it).
    static func exclusions(of rep: borrowing Candidate, for request: RoutingRequest, now: Date) -> Exclusions {
        var reasons: Exclusions = []
        if rep.role != .accountManager { reasons.insert(.notAccountManager) }
        if !rep.active { reasons.insert(.inactive) }
        if let away = rep.awayUntil, away > now { reasons.insert(.away) }
        if rep.id == request.hunterId { reasons.insert(.hunter) }
        if !request.excludedRepIds.isEmpty && request.excludedRepIds.contains(rep.id) { reasons.insert(.departing) }
        if rep.owned >= rep.capacity { reasons.insert(.atCapacity) }
        for need in request.needs where !rep.skills.contains(need) {
            reasons.insert(.skills)
            break
        }
        return reasons
    }

    /// The total order among eligible reps: whether `a` is preferred to `b`.
    static func precedes(_ a: borrowing Candidate, _ b: borrowing Candidate) -> Bool {
        switch compareUtilization(a, b) {
        case .orderedAscending: return true
        case .orderedDescending: return false
        case .orderedSame: break
        }
        switch compareLastAssigned(a, b) {
        case .orderedAscending: return true
        case .orderedDescending: return false
        case .orderedSame: return a.id < b.id
        }
    }

    static func separatingRule(_ winner: borrowing Candidate, _ runnerUp: borrowing Candidate) -> ChoiceRule {
        if compareUtilization(winner, runnerUp) != .orderedSame { return .lowestUtilization }
        if compareLastAssigned(winner, runnerUp) != .orderedSame { return .leastRecentlyAssigned }
        return .lowestId
    }

    /// Compares owned/capacity exactly as `owned₁·cap₂` vs `owned₂·cap₁` (full-width, never traps).
    /// Only called for eligible reps, whose capacities are positive.
    static func compareUtilization(_ a: borrowing Candidate, _ b: borrowing Candidate) -> ComparisonResult {
        let lhs = Int64(a.owned).multipliedFullWidth(by: Int64(b.capacity))
        let rhs = Int64(b.owned).multipliedFullWidth(by: Int64(a.capacity))
        if lhs.high != rhs.high { return lhs.high < rhs.high ? .orderedAscending : .orderedDescending }
        if lhs.low != rhs.low { return lhs.low < rhs.low ? .orderedAscending : .orderedDescending }
        return .orderedSame
    }

    /// Never assigned sorts first, then the earliest assignment.
    static func compareLastAssigned(_ a: borrowing Candidate, _ b: borrowing Candidate) -> ComparisonResult {
        switch (a.lastAssignedAt, b.lastAssignedAt) {
        case (nil, nil): .orderedSame
        case (nil, _): .orderedAscending
        case (_, nil): .orderedDescending
        case let (x?, y?): x == y ? .orderedSame : (x < y ? .orderedAscending : .orderedDescending)
        }
    }

    static func evaluation(of rep: borrowing Candidate, exclusions: Exclusions) -> CandidateEvaluation {
        CandidateEvaluation(
            repId: rep.id,
            role: rep.role,
            owned: rep.owned,
            capacity: rep.capacity,
            utilization: rep.capacity > 0 ? Double(rep.owned) / Double(rep.capacity) : 1,
            exclusions: exclusions,
            lastAssignedAt: rep.lastAssignedAt
        )
    }

    /// E.g. "no active account manager with capacity and skills [customs, rail]
    /// (of 3 account managers: 1 away, 2 at capacity, 1 missing skills)".
    static func waitingReason(needs: [String], strictSkills: Bool, managers: Int, counts: ExclusionCounts) -> String {
        guard managers > 0 else { return "no account manager in the team" }

        var sentence = "no active account manager with capacity"
        if strictSkills && !needs.isEmpty {
            sentence += " and skills [\(needs.joined(separator: ", "))]"
        }
        let counted = Exclusion.allCases.compactMap { reason -> String? in
            let n = counts[reason]
            guard n > 0, let label = label(of: reason) else { return nil }
            return "\(n) \(label)"
        }
        let noun = managers == 1 ? "account manager" : "account managers"
        return sentence + " (of \(managers) \(noun): \(counted.joined(separator: ", ")))"
    }

    private static func label(of reason: Exclusion) -> String? {
        switch reason {
        case .notAccountManager: nil
        case .inactive: "inactive"
        case .away: "away"
        case .hunter: "the hunter"
        case .departing: "departing"
        case .atCapacity: "at capacity"
        case .skills: "missing skills"
        }
    }
}
