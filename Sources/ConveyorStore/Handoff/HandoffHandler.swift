import ConveyorCore
import ConveyorPostgres
import Foundation

/// Runs `handoff` jobs (enqueued by `conveyor.record_win` and by
/// redistributions that had to wait): routes each won account of a batch
/// team by team, in the worker's transaction, so a handoff's effects and its
/// job's completion are one commit.
///
/// Payload: `{"account_id": N}`, optionally `"kind": "redistribution"` and
/// `"from_rep_id": M` (default: an automatic handoff from the hunter).
public struct HandoffHandler: JobHandler {
    public let kind = "handoff"
    public init() {}

    struct Payload: Decodable {
        let accountId: Int64
        let kind: HandoffKind?
        let fromRepId: Int64?
        enum CodingKeys: String, CodingKey {
            case accountId = "account_id", kind, fromRepId = "from_rep_id"
        }
    }

    private struct Entry {
        let job: ClaimedJob
        let payload: Payload
    }

    public func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
        var outcomes: [Int64: JobOutcome] = [:]
        var payloads: [Entry] = []
        for (job, payload) in jobs.decodePayloads(Payload.self) {
            switch payload {
            case .success(let payload): payloads.append(Entry(job: job, payload: payload))
            case .failure(let error): outcomes[job.id] = .dead(error: "\(error)")
            }
        }
        // Group by the job's team (record_win and redistributions set it);
        // only jobs without one need their account read first.
        let unscoped = payloads.filter { $0.job.teamId == nil }.map(\.payload.accountId)
        let unscopedAccounts = unscoped.isEmpty ? [:] : try HandoffRouter.accounts(connection, ids: unscoped)
        var pending: [Int64: [Entry]] = [:]
        for entry in payloads {
            guard let teamId = entry.job.teamId ?? unscopedAccounts[entry.payload.accountId]?.teamId else {
                outcomes[entry.job.id] = .dead(error: "account \(entry.payload.accountId) does not exist")
                continue
            }
            pending[teamId, default: []].append(entry)
        }
        // Teams in id order, so concurrent workers take team locks in one
        // order. An account that moved to another team is routed there, after.
        var routedTeams: Set<Int64> = []
        while let teamId = pending.keys.min() {
            let entries = pending.removeValue(forKey: teamId)!
            routedTeams.insert(teamId)
            // The accounts are read under the lock: another worker or a manual handoff may have moved them.
            guard let locked = try HandoffRouter.lockTeam(connection, id: teamId, reading: entries.map(\.payload.accountId))
            else { continue }
            let team = locked.team
            if team.paused {
                for entry in entries { outcomes[entry.job.id] = .waiting(until: nil, reason: "team \(team.name) is paused") }
                continue
            }
            let current = locked.accounts
            var due: [(entry: Entry, account: RoutingAccount)] = []
            for entry in entries {
                guard let account = current[entry.payload.accountId] else {
                    outcomes[entry.job.id] = .dead(error: "account \(entry.payload.accountId) does not exist")
                    continue
                }
                // Already handed off (or churned, or moved away): nothing left to do here.
                guard account.stage == AccountStage.won.rawValue else { continue }
                if account.teamId == teamId {
                    due.append((entry, account))
                } else if routedTeams.contains(account.teamId) {
                    outcomes[entry.job.id] = .retry(error: "account \(account.id) moved to another team while being routed")
                } else {
                    pending[account.teamId, default: []].append(entry)
                }
            }
            var candidates: HandoffRouter.TeamCandidates? = locked.candidates
            for handoffKind in [HandoffKind.auto, .redistribution] {
                let group = due.filter { ($0.entry.payload.kind ?? .auto) == handoffKind }
                guard !group.isEmpty else { continue }
                let fromRep = Dictionary(group.map { ($0.account.id, $0.entry.payload.fromRepId ?? $0.account.hunterId) }) { first, _ in first }
                let routed = try HandoffRouter.route(
                    connection, team: team, accounts: group.map(\.account), kind: handoffKind, from: { fromRep[$0.id] ?? nil },
                    candidates: candidates
                )
                // This group's handoffs changed them: the next group reads them again.
                candidates = nil
                for (member, result) in zip(group, routed) where result.decision.chosenRepId == nil {
                    outcomes[member.entry.job.id] = .waiting(until: result.retryAt, reason: result.decision.waitingReason ?? "no eligible account manager")
                }
            }
        }
        return outcomes
    }
}
