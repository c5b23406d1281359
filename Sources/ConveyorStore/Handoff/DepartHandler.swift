import ConveyorPostgres
import Foundation

/// Runs `depart` jobs (payload ``Reassignment/Departure``, enqueued by
/// `rep.depart`): the rep becomes inactive and their book is redistributed
/// in the worker's transaction, under the team's routing lock its batch
/// holds. The job's output is the redistribution (``Reassignment/Move``s),
/// which the waiting command answers with.
public struct DepartHandler: JobHandler {
    public let kind = Reassignment.departJobKind
    public init() {}

    public func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
        var outcomes: [Int64: JobOutcome] = [:]
        for (job, payload) in jobs.decodePayloads(Reassignment.Departure.self) {
            switch payload {
            case .failure(let error):
                outcomes[job.id] = .dead(error: "\(error)")
            case .success(let departure):
                guard let teamId = job.teamId else {
                    outcomes[job.id] = .dead(error: "a depart job needs its team_id")
                    continue
                }
                let moves = try Reassignment.depart(connection, teamId: teamId, repId: departure.repId)
                outcomes[job.id] = .completed(output: String(decoding: try JSONEncoder().encode(moves), as: UTF8.self))
            }
        }
        return outcomes
    }
}
