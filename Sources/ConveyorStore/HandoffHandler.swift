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
        // Group by team from a first read; each team's accounts are read again
        // under its routing lock, since another worker or a manual handoff may
        // have moved them while we waited for it.
        let firstRead = try HandoffRouter.accounts(connection, ids: payloads.map(\.payload.accountId))
        var byTeam: [Int64: [(job: ClaimedJob, payload: Payload)]] = [:]
        for (job, payload) in payloads {
            guard let account = firstRead[payload.accountId] else {
                outcomes[job.id] = .dead(error: "account \(payload.accountId) does not exist")
                continue
            }
            byTeam[account.teamId, default: []].append((job, payload))
        }
        // Teams in id order, so concurrent workers take team locks in one order.
        for teamId in byTeam.keys.sorted() {
            let entries = byTeam[teamId]!
            guard let team = try HandoffRouter.lockTeam(connection, id: teamId) else { continue }
            if team.paused {
                for entry in entries { outcomes[entry.job.id] = .waiting(until: nil, reason: "team \(team.name) is paused") }
                continue
            }
            let current = try HandoffRouter.accounts(connection, ids: entries.map(\.payload.accountId))
            // Already handed off (or churned, or moved away): nothing left to do.
            let due = entries.compactMap { entry in
                current[entry.payload.accountId].flatMap { $0.stage == AccountStage.won.rawValue && $0.teamId == teamId ? (entry.job, entry.payload, $0) : nil }
            }
            for handoffKind in [HandoffKind.auto, .redistribution] {
                let group = due.filter { ($0.1.kind ?? .auto) == handoffKind }
                let fromRep = Dictionary(group.map { ($0.2.id, $0.1.fromRepId ?? $0.2.hunterId) }) { first, _ in first }
                let routed = try HandoffRouter.route(
                    connection, team: team, accounts: group.map(\.2), kind: handoffKind, from: { fromRep[$0.id] ?? nil }
                )
                for (entry, result) in zip(group, routed) where result.decision.chosenRepId == nil {
                    outcomes[entry.0.id] = .waiting(until: result.retryAt, reason: result.decision.waitingReason ?? "no eligible account manager")
                }
            }
        }
        return outcomes
    }
}
