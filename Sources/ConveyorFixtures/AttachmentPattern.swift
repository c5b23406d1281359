/// How a generated account is attached to its people. The pattern decides the
/// account's stage and interactions, and so the alerts a correct scan raises on
/// it (`expectedKinds`); every share and count is kept clear of the default
/// rule thresholds, so the truth does not hang on rounding.
///
/// Overlaps are part of the truth, not avoided: one person doing every
/// interaction of the last 180 days also did more than 80% of the window's, so
/// `noBackup` raises `single_threaded` too; `hunterNeverLetGo` raises all four
/// kinds, each on the hunter.
public enum AttachmentPattern: String, CaseIterable, Sendable, Codable {
    /// Active; the window's interactions spread over three account managers (40/30/30%). No alert.
    case healthy = "healthy"
    /// Active; the hunter did 40% of the window's interactions, long after the handoff.
    case hunterStillServicing = "hunter_still_servicing"
    /// Active; the owner did more than 90% of the window's interactions, a colleague the rest (and half of the months before).
    case singleThreaded = "single_threaded"
    /// Active; the owner did every interaction of the last 180 days: `no_backup` and `single_threaded`.
    case noBackup = "no_backup"
    /// Active; 65% of the window's interactions are the owner with one client contact, the rest name nobody: `bow_tie` only.
    case bowTie = "bow_tie"
    /// Active; the hunter does everything since the handoff, always with the same contact: all four kinds, on the hunter.
    case hunterNeverLetGo = "hunter_never_let_go"
    /// Active; 3 interactions in the window (one person did those and the months before): not scored, no alert.
    case tooFewInteractions = "too_few_interactions"
    /// Active; handed off 4 to 10 days ago and the hunter did half since: inside the 14-day grace, no alert.
    case hunterInGrace = "hunter_in_grace"
    /// Churned; the hunter did everything: not active, not scored.
    case churned = "churned"
    /// A lead a lead generator works alone: not active, not scored.
    case lead = "lead"

    /// The alert kinds a correct scan raises on an account of this pattern, at the default settings.
    public var expectedKinds: [AlertKind] {
        switch self {
        case .hunterStillServicing: [.hunterStillServicing]
        case .singleThreaded: [.singleThreaded]
        case .noBackup: [.noBackup, .singleThreaded]
        case .bowTie: [.bowTie]
        case .hunterNeverLetGo: [.hunterStillServicing, .singleThreaded, .noBackup, .bowTie]
        case .healthy, .tooFewInteractions, .hunterInGrace, .churned, .lead: []
        }
    }

    /// The account's `stage`.
    public var stage: String {
        switch self {
        case .churned: "churned"
        case .lead: "lead"
        default: "active"
        }
    }

    /// Whether a correct scan scores the account (active, at least 6 interactions in the window).
    public var isScored: Bool { stage == "active" && self != .tooFewInteractions }
}
