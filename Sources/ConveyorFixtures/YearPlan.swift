/// A generated year, computed in Swift and small: per team its reps and one
/// plan per account, whose interaction blocks PostgreSQL expands into rows
/// (`YearLoader`). `truth` is what a correct scan of it finds.
public struct YearPlan: Sendable, Equatable {
    public let spec: YearSpec
    public let teams: [TeamPlan]
    public let truth: GroundTruth
}

/// One team of a generated year.
public struct TeamPlan: Sendable, Equatable {
    public let size: TeamSize
    public let reps: [RepPlan]
    public let accounts: [AccountPlan]

    /// How many accounts have each pattern.
    public var patternCounts: [AttachmentPattern: Int] {
        accounts.reduce(into: [:]) { $0[$1.pattern, default: 0] += 1 }
    }
}

/// A sales rep: `role` is `lead_generator`, `closer` or `account_manager`.
public struct RepPlan: Sendable, Equatable {
    public let ref: String
    public let name: String
    public let role: String
    public let capacity: Int
    public let skills: [String]
}

/// One account: reps are indexes into its team's `reps`; times are days before `asOf`.
public struct AccountPlan: Sendable, Equatable {
    public let ref: String
    public let name: String
    public let pattern: AttachmentPattern
    public let needs: [String]
    /// Expected yearly margin (`accounts.value`), whole currency units.
    public let value: Int
    public let hunter: Int?
    public let owner: Int?
    public let wonDaysAgo: Double?
    public let handedOffDaysAgo: Double?
    /// Three client-side people; interactions name them, or nobody.
    public let contacts: [String]
    public let blocks: [InteractionBlock]
    public let deals: DealPlan

    public var interactionCount: Int { blocks.reduce(0) { $0 + $1.count } }
}

/// `count` interactions by one rep, evenly spread between `nearDaysAgo` and
/// `farDaysAgo` (strictly inside), offset by `phase` (0..<1) of one step.
public struct InteractionBlock: Sendable, Equatable {
    public let rep: Int
    public let count: Int
    public let nearDaysAgo: Double
    public let farDaysAgo: Double
    public let contacts: ContactMode
    public let phase: Double
}

/// Whom a block's interactions name on the client side.
public enum ContactMode: Int, Sendable, Equatable {
    /// Nobody (`contact` is NULL).
    case none = 0
    /// Always the account's first contact.
    case main = 1
    /// The account's three contacts in turn, then nobody: 1, 2, 3, NULL, 1, …
    case rotating = 2
}

/// The account's deals: `count` deals of about `amount` (0.7 to 1.3 times
/// it), each with `marginPercent` of its amount as margin, closed evenly
/// between `nearDaysAgo` and `farDaysAgo`.
public struct DealPlan: Sendable, Equatable {
    public let count: Int
    public let amount: Double
    public let marginPercent: Double
    public let nearDaysAgo: Double
    public let farDaysAgo: Double
}
