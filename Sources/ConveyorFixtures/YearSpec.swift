import Foundation

/// One generated team: its name, IANA time zone and size.
public struct TeamSize: Sendable, Hashable, Codable {
    public var name: String
    public var timeZone: String
    public var accounts: Int
    /// Interactions of the team's accounts over the trailing year, exactly.
    public var interactions: Int

    public init(name: String, timeZone: String, accounts: Int, interactions: Int) {
        self.name = name
        self.timeZone = timeZone
        self.accounts = accounts
        self.interactions = interactions
    }

    /// Sizes a team may have: enough accounts for every pattern to occur, and
    /// an average per account that leaves every pattern its interactions.
    public static let accountRange = 100...2_000_000
    public static let averageInteractionsRange = 24...2_000

    func validate() throws {
        guard !name.isEmpty, name.count <= 200, name.contains(where: { !$0.isWhitespace }) else {
            throw FixtureError("a team name is 1 to 200 characters, not all spaces")
        }
        guard TimeZone(identifier: timeZone) != nil, timeZone.contains("/") || timeZone == "UTC" else {
            throw FixtureError("team \(name): \(timeZone) is not an IANA time zone (e.g. Asia/Shanghai)")
        }
        guard Self.accountRange.contains(accounts) else {
            throw FixtureError("team \(name): accounts must be between \(Self.accountRange.lowerBound) and \(Self.accountRange.upperBound), got \(accounts)")
        }
        let range = Self.averageInteractionsRange
        guard interactions >= accounts * range.lowerBound, interactions <= accounts * range.upperBound else {
            throw FixtureError("team \(name): \(accounts) accounts need between \(accounts * range.lowerBound) and \(accounts * range.upperBound) interactions (\(range.lowerBound) to \(range.upperBound) per account), got \(interactions)")
        }
    }
}

/// What to generate: a seed, the instant the year ends at, the teams and the
/// share of each attachment pattern. The same spec always gives the same year.
public struct YearSpec: Sendable, Hashable, Codable {
    public var seed: UInt64
    /// The year is the 365 days before this instant; load it shortly before scanning.
    public var asOf: Date
    public var teams: [TeamSize]
    public var mix: AttachmentMix

    public init(seed: UInt64, asOf: Date, teams: [TeamSize], mix: AttachmentMix = .standard) {
        self.seed = seed
        self.asOf = asOf
        self.teams = teams
        self.mix = mix
    }

    func validate() throws {
        guard !teams.isEmpty else { throw FixtureError("a year needs at least one team") }
        guard Set(teams.map(\.name)).count == teams.count else { throw FixtureError("team names must differ") }
        for team in teams { try team.validate() }
        try mix.validate()
    }
}
