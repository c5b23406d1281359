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

    public func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
        var outcomes: [Int64: JobOutcome] = [:]
        var payloads: [(job: ClaimedJob, payload: Payload)] = []
        for job in jobs {
            do {
                payloads.append((job, try job.decodePayload(Payload.self)))
            } catch {
                outcomes[job.id] = .dead(error: "\(error)")
            }
        }
        let accounts = try HandoffRouter.accounts(connection, ids: payloads.map(\.payload.accountId))
        var byTeam: [Int64: [(job: ClaimedJob, payload: Payload, account: RoutingAccount)]] = [:]
        for (job, payload) in payloads {
            guard let account = accounts[payload.accountId] else {
                outcomes[job.id] = .dead(error: "account \(payload.accountId) does not exist")
                continue
            }
            // Already handed off (or churned, or back to lead): nothing left to do.
            guard account.stage == "won" else { continue }
            byTeam[account.teamId, default: []].append((job, payload, account))
        }
        // Teams in id order, so concurrent workers take team locks in one order.
        for teamId in byTeam.keys.sorted() {
            let entries = byTeam[teamId]!
            guard let team = try HandoffRouter.lockTeam(connection, id: teamId) else { continue }
            if team.paused {
                for entry in entries { outcomes[entry.job.id] = .waiting(until: nil, reason: "team \(team.name) is paused") }
                continue
            }
            // A batch mixes kinds only across jobs; route each kind with its own rows.
            for handoffKind in [HandoffKind.auto, .redistribution] {
                let group = entries.filter { ($0.payload.kind ?? .auto) == handoffKind }
                let fromRep = Dictionary(group.map { ($0.account.id, $0.payload.fromRepId ?? $0.account.hunterId) }) { first, _ in first }
                let routed = try HandoffRouter.route(
                    connection, team: team, accounts: group.map(\.account), kind: handoffKind,
                    from: { fromRep[$0.id] ?? nil }
                )
                for (entry, result) in zip(group, routed) where result.decision.chosenRepId == nil {
                    outcomes[entry.job.id] = .waiting(until: result.retryAt, reason: result.decision.waitingReason ?? "no eligible account manager")
                }
            }
        }
        return outcomes
    }
}
