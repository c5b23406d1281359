import ConveyorCore
import ConveyorPostgres
import ConveyorStore
import Foundation
import Logging
import ServiceLifecycle

/// Schedules every team's nightly scan, safe with several daemons at once:
/// at start and every `interval`, each team's latest due scan time
/// (``ScanCalendar/due(at:createdAt:lastScheduled:)``) is claimed with
/// ``NightlyScans/schedule(_:teamId:localDate:dueAt:)``, and the database
/// lets one daemon win each team's local date. A team whose zone Foundation
/// does not know is skipped, said once per zone in the log.
struct ScanScheduler: Service {
    let database: ConnectionPool
    let logger: Logger
    var interval: Duration = .seconds(30)

    /// What one round did for one team.
    enum Action: Sendable {
        case scheduled(ScanTeam, ScanCalendar.Occurrence, job: Int64)
        /// Another daemon claimed the date first.
        case claimedElsewhere(ScanTeam, ScanCalendar.Occurrence)
        case unknownZone(ScanTeam, ValidationError)
    }

    func run() async throws {
        var warned: Set<String> = []
        repeat {
            do {
                let (teams, actions) = try await database.run { connection in try Self.round(connection, at: Date()) }
                for action in actions { report(action, warned: &warned) }
                logger.debug("checked the scan schedule", metadata: ["teams": "\(teams)"])
            } catch {
                logger.warning("scan scheduling failed; will retry", metadata: ["error": "\(error)"])
            }
        } while await pauseUnlessShuttingDown(for: interval)
    }

    /// Schedules each team's due scan; returns how many teams there are and what was done.
    static func round(_ connection: PostgresConnection, at now: Date) throws -> (teams: Int, actions: [Action]) {
        let teams = try NightlyScans.teams(connection)
        let actions = try teams.filter { !$0.paused }.compactMap { team -> Action? in
            let calendar: ScanCalendar
            do throws(ValidationError) {
                calendar = try team.calendar()
            } catch {
                return .unknownZone(team, error)
            }
            guard let due = calendar.due(at: now, createdAt: team.createdAt, lastScheduled: team.lastScheduled) else { return nil }
            guard let job = try NightlyScans.schedule(connection, teamId: team.id, localDate: due.localDate, dueAt: due.instant) else {
                return .claimedElsewhere(team, due)
            }
            return .scheduled(team, due, job: job)
        }
        return (teams.count, actions)
    }

    private func report(_ action: Action, warned: inout Set<String>) {
        switch action {
        case .scheduled(let team, let due, let job):
            logger.info("scheduled a nightly scan", metadata: [
                "team": "\(team.name)", "local_date": "\(due.localDate)", "due_at": "\(ISO8601.string(due.instant))", "job": "\(job)",
            ])
        case .claimedElsewhere(let team, let due):
            logger.debug("nightly scan already scheduled elsewhere", metadata: ["team": "\(team.name)", "local_date": "\(due.localDate)"])
        case .unknownZone(let team, let error):
            guard warned.insert("\(team.id) \(team.timeZone)").inserted else { return }
            logger.warning("skipping the nightly scan of a team whose time zone is unknown here", metadata: [
                "team": "\(team.name)", "time_zone": "\(team.timeZone)", "error": "\(error)",
            ])
        }
    }
}
