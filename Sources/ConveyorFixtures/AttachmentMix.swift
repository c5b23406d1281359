/// The share of a team's accounts generated in each attachment pattern.
/// `healthy` takes whatever the others leave; each count is the share of the
/// accounts rounded down, so it is known exactly (`counts(accounts:)`).
public struct AttachmentMix: Sendable, Hashable, Codable {
    /// Shares of every pattern but `healthy`, each in 0...1, summing to at most 1.
    public var shares: [AttachmentPattern: Double]

    public init(shares: [AttachmentPattern: Double]) { self.shares = shares }

    /// About half healthy; a few percent of each attachment; some churned accounts and leads.
    public static let standard = AttachmentMix(shares: [
        .hunterStillServicing: 0.08, .singleThreaded: 0.08, .noBackup: 0.06, .bowTie: 0.06,
        .hunterNeverLetGo: 0.03, .tooFewInteractions: 0.08, .hunterInGrace: 0.04, .churned: 0.05, .lead: 0.05,
    ])

    /// How many of `accounts` accounts are generated in each pattern (they add up to `accounts`).
    public func counts(accounts: Int) -> [AttachmentPattern: Int] {
        var counts: [AttachmentPattern: Int] = [:]
        for pattern in AttachmentPattern.allCases where pattern != .healthy {
            counts[pattern] = Int((shares[pattern] ?? 0) * Double(accounts))
        }
        counts[.healthy] = accounts - counts.values.reduce(0, +)
        return counts
    }

    func validate() throws {
        guard shares[.healthy] == nil else { throw FixtureError("the healthy share is what the others leave; do not set it") }
        guard shares.values.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }) else {
            throw FixtureError("every pattern share must be between 0 and 1")
        }
        guard shares.values.reduce(0, +) <= 1 else { throw FixtureError("the pattern shares add up to more than 1") }
    }
}
