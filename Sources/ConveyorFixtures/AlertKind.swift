/// The attachment alert kinds the nightly scan raises, by their names in `conveyor.alerts.kind`.
public enum AlertKind: String, CaseIterable, Sendable, Codable, Comparable {
    case hunterStillServicing = "hunter_still_servicing"
    case singleThreaded = "single_threaded"
    case noBackup = "no_backup"
    case bowTie = "bow_tie"

    public static func < (left: AlertKind, right: AlertKind) -> Bool { left.rawValue < right.rawValue }
}
