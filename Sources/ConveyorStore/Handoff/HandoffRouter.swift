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
        /// The decision time: the transaction's, which its handoffs' `created_at` also take.
        public let now: Date
    }

    /// What happened to one account.
    public struct Routed: Sendable {
        public let accountId: Int64
        public let decision: RoutingDecision
        /// When to look again without an event (an away manager's return).
        public let retryAt: Date?
    }

    /// A new candidate snapshot every this many handoffs at the latest, so
    /// rebuilding an explanation replays a bounded number of handoffs.
    static let handoffsPerSnapshot = 1000

    public static func lockTeam(_ connection: PostgresConnection, id: Int64) throws -> Team? {
        try connection.query(Queries.lockTeamRouting, [id]).first.map(team)
    }

    /// A locked team with what routing its won accounts reads under the lock.
    public struct LockedTeam: Sendable {
        public let team: Team
        public let accounts: [Int64: RoutingAccount]
        /// For `route`'s first batch; a later batch reads them again.
        public let candidates: TeamCandidates
    }

    /// `lockTeam`, then, under the lock, the accounts `accountIds` and the
    /// team's candidates: in one round trip, for a handoff job's batch.
    public static func lockTeam(_ connection: PostgresConnection, id: Int64, reading accountIds: [Int64]) throws -> LockedTeam? {
        let rows = try connection.pipeline([
            (Queries.lockTeamRouting, [id]), (Queries.routingAccounts, [accountIds]), (Queries.routingCandidates, [id]),
        ])
        guard let row = rows[0].first else { return nil }
        return LockedTeam(team: try team(row), accounts: try accounts(rows[1]), candidates: try candidates(rows[2]))
    }

    private static func team(_ row: PostgresRow) throws -> Team {
        Team(
            id: try row["id"].int64(),
            name: try row["name"].string(),
            paused: try row["paused"].bool(),
            settings: RoutingSettings(skillsFallback: try row["skills_fallback"].bool()),
            now: CandidateSnapshot.date(micros: try row["now_us"].int64())
        )
    }

    public static func accounts(_ connection: PostgresConnection, ids: [Int64]) throws -> [Int64: RoutingAccount] {
        try accounts(try connection.query(Queries.routingAccounts, [ids]))
    }

    private static func accounts(_ rows: PostgresRows) throws -> [Int64: RoutingAccount] {
        var accounts: [Int64: RoutingAccount] = [:]
        for row in rows {
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
        try teamCandidates(connection, teamId: teamId).all
    }

    private static func teamCandidates(_ connection: PostgresConnection, teamId: Int64) throws -> TeamCandidates {
        try candidates(try connection.query(Queries.routingCandidates, [teamId]))
    }

    /// The team's snapshot bookkeeping (see `route`).
    struct SnapshotState: Sendable {
        var id: Int64?
        var fingerprint: Int64?
        var handoffsSince = 0
    }

    /// A team's account managers as routing reads them, with its snapshot bookkeeping.
    public struct TeamCandidates: Sendable {
        let all: [Candidate]
        let snapshot: SnapshotState
    }

    private static func candidates(_ rows: PostgresRows) throws -> TeamCandidates {
        let candidates = try rows.map { row in
            Candidate(
                id: try row["id"].int64(),
                ref: try row["ref"].string(),
                role: RepRole(rawValue: try row["role"].string()) ?? .accountManager,
                active: try row["active"].bool(),
                awayUntil: try row["away_until_us"].optionalInt64().map(CandidateSnapshot.date(micros:)),
                capacity: try row["capacity"].int(),
                skills: Set(try row["skills"].textArray()),
                owned: try row["owned"].int(),
                lastAssignedAt: try row["last_assigned_us"].optionalInt64().map(CandidateSnapshot.date(micros:))
            )
        }
        guard let first = rows.first else { return TeamCandidates(all: candidates, snapshot: SnapshotState()) }
        let snapshot = SnapshotState(
            id: try first["snapshot_id"].optionalInt64(), fingerprint: try first["snapshot_fingerprint"].optionalInt64(),
            handoffsSince: try first["handoffs_since_snapshot"].optionalInt() ?? 0
        )
        return TeamCandidates(all: candidates, snapshot: snapshot)
    }

    /// Routes `accounts` (in order) of a locked team and applies the result.
    /// `from` names each handoff's previous holder; `excluded` reps never
    /// receive; `only` limits the candidates to one rep (manual handoffs, whose
    /// decisions list their candidate: a refusal says why); `detail` says
    /// whether the other decisions list every candidate (tests compare them);
    /// `candidates`, when given, are the team's as just read under its lock.
    /// Nothing is written for an account nobody may take, except its alert
    /// (not for manual handoffs, which are refused instead).
    ///
    /// Each handoff names the candidate snapshot its batch started from. A new
    /// one is taken only when the candidates differ from what the team's last
    /// batch left (something other than its handoffs changed them), or after
    /// `handoffsPerSnapshot` handoffs.
    public static func route(
        _ connection: PostgresConnection,
        team: Team,
        accounts: [RoutingAccount],
        kind: HandoffKind,
        from: (RoutingAccount) -> Int64?,
        excluded: Set<Int64> = [],
        only: Int64? = nil,
        detail: RoutingPolicy.Detail = .summary,
        candidates read: TeamCandidates? = nil
    ) throws -> [Routed] {
        guard !accounts.isEmpty else { return [] }
        let current = try read ?? teamCandidates(connection, teamId: team.id)
        let loaded = current.all, snapshot = current.snapshot
        var candidates = only.map { target in loaded.filter { $0.id == target } } ?? loaded
        let requests = accounts.map {
            RoutingRequest(accountId: $0.id, hunterId: $0.hunterId, needs: $0.needs, excludedRepIds: excluded)
        }
        let policy = RoutingPolicy(settings: team.settings, detail: only == nil ? detail : .full)
        let decisions = policy.route(batch: requests, candidates: &candidates, now: team.now)
        // The batch's handoffs continue the team's run of handoffs on its
        // snapshot, unless the candidates changed since the last batch (or the
        // run is long): then they start a new one from a new snapshot.
        let handoffs = decisions.count { $0.chosenRepId != nil }
        let continues = snapshot.fingerprint == CandidateSnapshot.fingerprint(loaded)
            && snapshot.handoffsSince + handoffs <= handoffsPerSnapshot
        let snapshotId = continues ? snapshot.id : nil
        let firstPosition = snapshotId == nil ? 0 : snapshot.handoffsSince
        var moves: (accounts: [Int64], from: [Int64?], to: [Int64], explanations: Explanation.Lines) =
            ([], [], [], .init(decisions: handoffs))
        var waiting: (accounts: [Int64], reasons: [String]) = ([], [])
        for (account, decision) in zip(accounts, decisions) {
            if let chosen = decision.chosenRepId {
                let inputs = Explanation.Inputs(
                    hunterId: account.hunterId, needs: account.needs, excludedRepIds: excluded, onlyRepId: only,
                    skillsFallback: team.settings.skillsFallback
                )
                moves.explanations.append(kind: kind, decision: decision, inputs: inputs, position: firstPosition + moves.accounts.count)
                moves.accounts.append(account.id)
                moves.from.append(from(account))
                moves.to.append(chosen)
            } else {
                waiting.accounts.append(account.id)
                waiting.reasons.append(decision.waitingReason ?? "no eligible account manager")
            }
        }
        if !moves.accounts.isEmpty {
            // The whole team as this batch leaves it: what the policy left, but
            // for a manual handoff, which routed among its target only.
            var after = candidates
            if only != nil {
                after = loaded
                for chosen in moves.to {
                    guard let index = after.firstIndex(where: { $0.id == chosen }) else { continue }
                    after[index].owned += 1
                    after[index].lastAssignedAt = team.now
                }
            }
            try connection.query(Queries.applyHandoffs, [
                moves.accounts, moves.from, moves.to, moves.explanations.text, kind.rawValue,
                snapshotId, team.id, snapshotId == nil ? CandidateSnapshot.json(loaded) : nil,
                CandidateSnapshot.fingerprint(after), firstPosition + moves.accounts.count,
            ])
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
