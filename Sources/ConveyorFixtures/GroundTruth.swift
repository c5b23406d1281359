/// One alert a correct scan raises: on which account (by ref), of which
/// kind, hanging on which rep (by ref).
public struct ExpectedAlert: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let team: String
    public let account: String
    public let kind: AlertKind
    public let rep: String

    public init(team: String, account: String, kind: AlertKind, rep: String) {
        self.team = team
        self.account = account
        self.kind = kind
        self.rep = rep
    }

    public static func < (left: ExpectedAlert, right: ExpectedAlert) -> Bool {
        (left.team, left.account, left.kind.rawValue) < (right.team, right.account, right.kind.rawValue)
    }

    public var description: String { "\(team)/\(account) \(kind.rawValue) on \(rep)" }
}

/// What a correct scan of a generated year finds at the default settings:
/// exactly these alerts (no others), and per team how many active accounts
/// it scans and how many of them it does not score (fewer than 6
/// interactions in the window). Accounts raise several kinds where the rules
/// overlap: see `overlaps`.
public struct GroundTruth: Sendable, Equatable, Codable {
    public let alerts: [ExpectedAlert]
    /// Active accounts per team (the scan's `scanned`).
    public let scanned: [String: Int]
    /// Active accounts per team with too few interactions (the scan's `not_scored`).
    public let notScored: [String: Int]
    /// The rules' overlaps the alerts include, in words.
    public let overlaps: [String]

    static let overlapNotes = [
        "no_backup implies single_threaded: one person who did every interaction of the last 180 days did 100% of the window's; no_backup accounts raise both, on the same rep",
        "hunter_never_let_go accounts raise all four kinds, each on the hunter: the hunter did every interaction since the handoff, always with the same contact",
        "bow_tie accounts are not single_threaded: the owner did 65% of the window's interactions, all of them with one contact, and the other 35% name nobody",
    ]

    /// The alerts of one team, sorted.
    public func alerts(team: String) -> [ExpectedAlert] { alerts.filter { $0.team == team } }
}
