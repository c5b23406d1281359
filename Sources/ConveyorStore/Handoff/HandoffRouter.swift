import ConveyorCore
import ConveyorPostgres
import Foundation

/// An account as routing sees it.
public struct RoutingAccount: Sendable, Equatable {
    public let id: Int64
    public let teamId: Int64
    public let ref: String
    public let stage: String
    public let hunterId: Int64?
    public let ownerId: Int64?
    public let needs: [String]
}

/// The kinds of handoff (`handoffs.kind`).
public enum HandoffKind: String, Sendable, Codable {
    case auto, manual, redistribution
}

/// Routes a team's accounts with `RoutingPolicy` and applies the decisions
/// set-based in the caller's transaction: owners, stages, one `handoffs` row
/// each with its explanation, `no_eligible_manager` alerts for those that
/// must wait (resolved once routed), and one event notification.
///
/// The caller holds a transaction; `lockTeam` must come first: it serializes
/// routing per team across workers and daemons, so loads read here stay true
/// until commit and no manager is pushed past capacity.
public enum HandoffRouter {
    /// The team's routing settings, locked until commit; nil when there is no such team.
    public struct Team: Sendable {
        public let id: Int64
        public let name: String
        public let paused: Bool
        public let settings: RoutingSettings
    }

    /// What happened to one account.
    public struct Routed: Sendable {
        public let accountId: Int64
        public let decision: RoutingDecision
        /// When to look again without an event (an away manager's return).
        public let retryAt: Date?
    }

    public static func lockTeam(_ connection: PostgresConnection, id: Int64) throws -> Team? {
        try connection.query(Queries.lockTeamRouting, [id]).first.map { row in
            Team(
                id: try row["id"].int64(),
                name: try row["name"].string(),
                paused: try row["paused"].bool(),
                settings: RoutingSettings(skillsFallback: try row["skills_fallback"].bool())
            )
        }
    }

    public static func accounts(_ connection: PostgresConnection, ids: [Int64]) throws -> [Int64: RoutingAccount] {
        var accounts: [Int64: RoutingAccount] = [:]
        for row in try connection.query(Queries.routingAccounts, [ids]) {
            let account = RoutingAccount(
                id: try row["id"].int64(),
                teamId: try row["team_id"].int64(),
                ref: try row["ref"].string(),
                stage: try row["stage"].string(),
                hunterId: try row["hunter_id"].optionalInt64(),
                ownerId: try row["owner_id"].optionalInt64(),
                needs: try row["needs"].textArray()
            )
            accounts[account.id] = account
        }
        return accounts
    }

    public static func candidates(_ connection: PostgresConnection, teamId: Int64) throws -> [Candidate] {
        try connection.query(Queries.routingCandidates, [teamId]).map { row in
            Candidate(
                id: try row["id"].int64(),
                ref: try row["ref"].string(),
                role: RepRole(rawValue: try row["role"].string()) ?? .accountManager,
                active: try row["active"].bool(),
                awayUntil: try row["away_until"].optionalDate(),
                capacity: try row["capacity"].int(),
                skills: Set(try row["skills"].textArray()),
                owned: try row["owned"].int(),
                lastAssignedAt: try row["last_assigned_at"].optionalDate()
            )
        }
    }

    /// Routes `accounts` (in order) of a locked team and applies the result.
    /// `from` names each handoff's previous holder; `excluded` reps never
    /// receive; `only` limits the candidates to one rep (manual handoffs).
    /// Nothing is written for an account nobody may take, except its alert
    /// (not for manual handoffs, which are refused instead).
    public static func route(
        _ connection: PostgresConnection,
        team: Team,
        accounts: [RoutingAccount],
        kind: HandoffKind,
        from: (RoutingAccount) -> Int64?,
        excluded: Set<Int64> = [],
        only: Int64? = nil,
        now: Date = Date()
    ) throws -> [Routed] {
        guard !accounts.isEmpty else { return [] }
        var candidates = try candidates(connection, teamId: team.id).filter { only == nil || $0.id == only }
        let requests = accounts.map {
            RoutingRequest(accountId: $0.id, hunterId: $0.hunterId, needs: $0.needs, excludedRepIds: excluded)
        }
        let decisions = RoutingPolicy(settings: team.settings).route(batch: requests, candidates: &candidates, now: now)
        var moves: (accounts: [Int64], from: [Int64?], to: [Int64], explanations: Explanation.Lines) =
            ([], [], [], .init(decisions: decisions.count, candidates: candidates.count))
        var waiting: (accounts: [Int64], reasons: [String]) = ([], [])
        for (account, decision) in zip(accounts, decisions) {
            if let chosen = decision.chosenRepId {
                moves.accounts.append(account.id)
                moves.from.append(from(account))
                moves.to.append(chosen)
                moves.explanations.append(kind: kind, decision: decision)
            } else {
                waiting.accounts.append(account.id)
                waiting.reasons.append(decision.waitingReason ?? "no eligible account manager")
            }
        }
        if !moves.accounts.isEmpty {
            let ids = try connection.query(Queries.applyHandoffs, [moves.accounts, moves.from, moves.to, moves.explanations.text, kind.rawValue])
                .map { try $0["id"].int64() }
            try connection.query(Queries.resolveNoEligibleAlerts, [moves.accounts])
            if let first = ids.min(), let last = ids.max() {
                try connection.query(Queries.publishHandoffs, [team.id, first, last, ids.count])
            }
        }
        var retryAt: Date?
        if !waiting.accounts.isEmpty && kind != .manual {
            try connection.query(Queries.openNoEligibleAlerts, [team.id, waiting.accounts, waiting.reasons])
            retryAt = try connection.query(Queries.nextReturnFromAway, [team.id])[0]["next_return"].optionalDate()
        }
        return zip(accounts, decisions).map { account, decision in
            Routed(accountId: account.id, decision: decision, retryAt: decision.chosenRepId == nil ? retryAt : nil)
        }
    }
}
