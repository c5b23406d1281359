import ConveyorCore
import ConveyorPostgres
import Foundation

/// Handoffs an admin asks for: a departing rep's accounts redistributed, or
/// one account reassigned by hand. Both route under the team's routing lock
/// in the caller's transaction, by the same policy as automatic handoffs.
public enum Reassignment {
    /// One account's new owner after a departure (nil: it waits for capacity).
    public struct Move: Sendable, Equatable, Codable {
        public let account: String
        public let owner: String?
        public let waitingReason: String?
        enum CodingKeys: String, CodingKey {
            case account, owner, waitingReason = "waiting_reason"
        }

        /// Every key, null included: a waiting account reads `"owner":null`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(account, forKey: .account)
            try container.encode(owner, forKey: .owner)
            try container.encode(waitingReason, forKey: .waitingReason)
        }
    }

    /// The job kind of a departure.
    public static let departJobKind = "depart"

    /// A `depart` job's payload; the job's `team_id` is the rep's team, so
    /// its batch holds the team's routing lock like the team's handoffs.
    public struct Departure: Sendable, Codable, Equatable {
        public let repId: Int64
        enum CodingKeys: String, CodingKey {
            case repId = "rep_id"
        }
    }

    /// Why a manual reassignment was refused.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// `rep.depart`: enqueues the departure of the rep `ref` of the team
    /// named `team` as a `depart` job and returns its id (`notFound` for an
    /// unknown team or rep). A worker runs it (``DepartHandler``), so a large
    /// book is redistributed off the admin socket's connections.
    public static func requestDeparture(_ connection: PostgresConnection, team: String, ref: String) throws -> Int64 {
        try connection.transaction {
            let teamId = try DirectoryStore.requireTeamId(connection, team)
            let rep = try DirectoryStore.requireRep(connection, teamId: teamId, team: team, ref: ref)
            let payload = String(decoding: try JSONEncoder().encode(Departure(repId: rep.id)), as: UTF8.self)
            // Ahead of the team's due handoffs: an admin waits for it.
            return try JobStore.enqueue(
                connection, kind: departJobKind, payload: payload, priority: -1, teamId: teamId, maxAttempts: JobStore.commandJobAttempts)
        }
    }

    /// `account.reassign`: hands the account `ref` of the team named `team`
    /// to its rep `to`, in one transaction; a refusal is `conflict`.
    /// Returns the account as it is now.
    public static func reassign(_ connection: PostgresConnection, team: String, ref: String, to: String) throws -> AccountRecord {
        try connection.transaction {
            let teamId = try DirectoryStore.requireTeamId(connection, team)
            let account = try DirectoryStore.requireAccount(connection, teamId: teamId, team: team, ref: ref)
            let target = try DirectoryStore.requireRep(connection, teamId: teamId, team: team, ref: to)
            do {
                _ = try reassign(connection, teamId: teamId, accountId: account.id, toRepId: target.id)
            } catch let refusal as Refusal {
                throw StoreRefusal.conflict(refusal.description)
            }
            return try DirectoryStore.requireAccount(connection, teamId: teamId, team: team, ref: ref)
        }
    }

    /// Marks the rep inactive and redistributes every account they own
    /// (kind `redistribution`, never to them, never to an account's hunter).
    /// Accounts nobody can take go back to `won` with a waiting handoff job.
    public static func depart(_ connection: PostgresConnection, teamId: Int64, repId: Int64) throws -> [Move] {
        guard let team = try HandoffRouter.lockTeam(connection, id: teamId) else { return [] }
        try connection.query(Queries.deactivateRep, [repId])
        let ids = try connection.query(Queries.ownedAccounts, [repId, teamId]).map { try $0["id"].int64() }
        let accounts = try HandoffRouter.accounts(connection, ids: ids)
        let ordered = ids.compactMap { accounts[$0] }
        // A paused team's handoffs wait, redistributions included.
        let routed = team.paused ? [] : try HandoffRouter.route(
            connection, team: team, accounts: ordered, kind: .redistribution, from: { _ in repId }, excluded: [repId]
        )
        let refs = Dictionary(uniqueKeysWithValues: try HandoffRouter.candidates(connection, teamId: teamId).map { ($0.id, $0.ref) })
        var moves: [Move] = []
        for (index, account) in ordered.enumerated() {
            let result = index < routed.count ? routed[index] : nil
            if let chosen = result?.decision.chosenRepId {
                moves.append(Move(account: account.ref, owner: refs[chosen], waitingReason: nil))
            } else {
                let reason = result?.decision.waitingReason ?? "team \(team.name) is paused"
                try connection.query(Queries.releaseAccount, [account.id])
                try connection.query(Queries.parkAccountJob, [account.id, repId, reason, result?.retryAt])
                moves.append(Move(account: account.ref, owner: nil, waitingReason: reason))
            }
        }
        return moves
    }

    /// Hands one account to `toRepId` (kind `manual`) if the policy allows it
    /// (an active, present account manager below capacity, not the hunter);
    /// throws `Refusal` with the reasons otherwise.
    public static func reassign(_ connection: PostgresConnection, teamId: Int64, accountId: Int64, toRepId: Int64) throws -> RoutingDecision {
        guard let team = try HandoffRouter.lockTeam(connection, id: teamId),
              let account = try HandoffRouter.accounts(connection, ids: [accountId])[accountId]
        else { throw Refusal(description: "no such account") }
        guard account.stage == AccountStage.won.rawValue || account.stage == AccountStage.active.rawValue else {
            throw Refusal(description: "only won or active accounts are handed off; this one is \(account.stage)")
        }
        guard account.ownerId != toRepId else { throw Refusal(description: "the account already belongs to that rep") }
        // The policy decides among the target alone, so every rule still holds for it.
        let decision = try HandoffRouter.route(
            connection, team: team, accounts: [account], kind: .manual, from: { $0.ownerId }, only: toRepId
        )[0].decision
        guard decision.chosenRepId == toRepId else {
            guard let evaluation = decision.candidates.first else {
                throw Refusal(description: "the target is not an account manager of team \(team.name)")
            }
            let reasons = evaluation.excludedBecause.map(\.rawValue).joined(separator: ", ")
            let ref = try HandoffRouter.candidates(connection, teamId: teamId).first { $0.id == toRepId }?.ref ?? "#\(toRepId)"
            throw Refusal(description: "\(ref) cannot take this account: \(reasons)")
        }
        try connection.query(Queries.settleAccountJob, [accountId])
        return decision
    }
}
