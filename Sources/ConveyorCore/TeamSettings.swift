import Foundation

/// A team's attachment-scan and severity settings, as `team.update` takes
/// them (`window_days=60`) and `conveyor.teams` stores them, with the ranges
/// its constraints check. One table drives the command's arguments, their
/// validation and their documentation.
public struct TeamSetting: Sendable, Equatable {
    /// What a setting's value is.
    public enum Kind: Sendable, Equatable {
        /// A whole number in the range.
        case integer(ClosedRange<Int>)
        /// A fraction above 0 and at most 1.
        case share
        /// An amount of money: at least 0, finite.
        case money
    }

    /// The argument and the column.
    public let name: String
    public let kind: Kind
    public let summary: String

    public static let all: [TeamSetting] = [
        TeamSetting(name: "window_days", kind: .integer(1...3650), summary: "days of interactions the scan looks at (default 90)"),
        TeamSetting(name: "min_interactions", kind: .integer(1...1_000_000), summary: "fewer interactions in the window: not scored (default 6)"),
        TeamSetting(name: "hunter_grace_days", kind: .integer(0...3650), summary: "days after a handoff before the hunter's share counts (default 14)"),
        TeamSetting(name: "hunter_share", kind: .share, summary: "hunter's share since the handoff that raises hunter_still_servicing (default 0.25)"),
        TeamSetting(name: "single_threaded_share", kind: .share, summary: "one person's share that raises single_threaded (default 0.80)"),
        TeamSetting(name: "no_backup_days", kind: .integer(1...3650), summary: "days in which one person doing everything raises no_backup (default 180)"),
        TeamSetting(name: "bow_tie_share", kind: .share, summary: "one (rep, contact) pair's share that raises bow_tie (default 0.70)"),
        TeamSetting(
            name: "bow_tie_min_interactions", kind: .integer(1...1_000_000),
            summary: "interactions naming a contact before bow_tie is judged (default 6)"),
        TeamSetting(name: "high_severity_share", kind: .share, summary: "top share of accounts by money at stake whose alerts are high (default 0.25)"),
        TeamSetting(name: "low_value_threshold", kind: .money, summary: "money at stake below which alerts are low (default 0)"),
    ]

    /// The value `text` gives this setting, or a `ValidationError` that says its range.
    public func value(_ text: String) throws(ValidationError) -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.count <= 40 ? Double(trimmed) : nil
        switch kind {
        case .integer(let range):
            guard let number, number == number.rounded(), number >= Double(range.lowerBound), number <= Double(range.upperBound) else {
                throw ValidationError(field: name, message: "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        case .share:
            guard let number, number > 0, number <= 1 else {
                throw ValidationError(field: name, message: "\(name) must be a share above 0 and at most 1, such as 0.8")
            }
            return number
        case .money:
            guard let number, number >= 0, number.isFinite else {
                throw ValidationError(field: name, message: "\(name) must be an amount of at least 0, such as 5000")
            }
            return number
        }
    }
}
