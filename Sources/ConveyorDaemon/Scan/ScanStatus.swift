import ConveyorCore
import ConveyorProtocol
import ConveyorStore
import Foundation

/// The `scans` part of `status`: per team, its newest scan run and when its
/// next nightly scan falls, in its own zone and in UTC (null while the team
/// is paused).
enum ScanStatus {
    static func json(teams: [ScanTeam], lastRuns: [Int64: ScanRun], now: Date) throws -> JSONValue {
        .array(try teams.map { team in
            let next: JSONValue = (team.paused ? nil : try? team.calendar()).map { calendar in
                let occurrence = calendar.next(after: now)
                return [
                    "local": .string(calendar.localTimestamp(of: occurrence.instant)),
                    "time_zone": .string(team.timeZone),
                    "utc": .string(ISO8601.string(occurrence.instant)),
                ]
            } ?? .null
            let last: JSONValue = try lastRuns[team.id].map { run in
                [
                    "trigger": .string(run.trigger),
                    "started_at": .string(ISO8601.string(run.startedAt)),
                    "finished_at": .string(ISO8601.string(run.finishedAt)),
                    "outcome": try JSONValue(parsing: run.outcome),
                ]
            } ?? .null
            return ["team": .string(team.name), "last_scan": last, "next_scan": next]
        })
    }
}
