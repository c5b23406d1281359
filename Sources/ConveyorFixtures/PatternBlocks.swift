/// The interactions of one account of a pattern, as blocks: who did how many,
/// when, naming whom. Every count is chosen so the account's rule figures stay
/// clear of the default thresholds (see `AttachmentPattern`).
///
/// Times, in days before `asOf`: the 90-day window's interactions fall in
/// 1...88, the rest of the last 180 days in 92...178, older ones after the
/// handoff's day up to 364. Accounts are handed off 182 to 300 days ago (all
/// their recent interactions come after it), those in grace 4 to 10 days ago.
struct PatternBlocks {
    /// The account's people, as indexes into the team's reps.
    struct People {
        let hunter: Int
        let leadGenerator: Int
        let owner: Int
        let colleague: Int
        let second: Int
    }

    static let window = (near: 1.0, far: 88.0)
    static let middle = (near: 92.0, far: 178.0)
    static let yearEnd = 364.0

    /// The fewest interactions an account of `pattern` has in the window.
    static func minimumWindow(_ pattern: AttachmentPattern) -> Int {
        switch pattern {
        case .tooFewInteractions: 3
        case .hunterInGrace: 16
        case .churned, .lead: 6
        default: 14
        }
    }

    /// The fewest interactions an account of `pattern` has over the year.
    static func minimumTotal(_ pattern: AttachmentPattern) -> Int { minimumWindow(pattern) + 6 }

    /// How many days ago an account of `pattern` is handed off.
    static func handoffDaysAgo(_ pattern: AttachmentPattern, _ random: inout Random) -> Double? {
        switch pattern {
        case .lead: nil
        case .hunterInGrace: random.uniform(4...10)
        default: random.uniform(182...300)
        }
    }

    /// `total` interactions (at least `minimumTotal`) split into the window,
    /// the rest of the last 180 days and the older part of the year.
    static func segments(_ pattern: AttachmentPattern, total: Int) -> (window: Int, middle: Int, old: Int) {
        let window = pattern == .tooFewInteractions
            ? minimumWindow(pattern) : max(minimumWindow(pattern), Int(Double(total) * 0.3))
        let middle = max(4, min(Int(Double(total) * 0.25), total - window - 2))
        return (window, middle, total - window - middle)
    }

    /// `total` split by `weights`, largest remainders first: every part at least one when total allows.
    static func split(_ total: Int, _ weights: [Double]) -> [Int] {
        let sum = weights.reduce(0, +)
        let exact = weights.map { Double(total) * $0 / sum }
        var parts = exact.map { Int($0) }
        let byRemainder = exact.indices.sorted { (exact[$0] - Double(parts[$0]), $1) > (exact[$1] - Double(parts[$1]), $0) }
        for index in byRemainder.prefix(total - parts.reduce(0, +)) { parts[index] += 1 }
        return parts
    }

    static func blocks(
        _ pattern: AttachmentPattern, total: Int, people p: People, handoffDaysAgo: Double?, _ random: inout Random
    ) -> [InteractionBlock] {
        let (window, middle, old) = segments(pattern, total: total)
        var blocks: [InteractionBlock] = []
        func add(_ rep: Int, _ count: Int, _ range: (near: Double, far: Double), _ contacts: ContactMode = .rotating) {
            guard count > 0 else { return }
            blocks.append(InteractionBlock(rep: rep, count: count, nearDaysAgo: range.near, farDaysAgo: range.far,
                                           contacts: contacts, phase: random.uniform(0.05...0.95)))
        }
        func addSplit(_ count: Int, _ reps: [(Int, Double)], _ range: (near: Double, far: Double), _ contacts: ContactMode = .rotating) {
            for (rep, part) in zip(reps.map(\.0), split(count, reps.map(\.1))) { add(rep, part, range, contacts) }
        }
        // Older interactions come after the handoff's day (before it, for accounts handed off long ago).
        let older = (near: max(182.0, (handoffDaysAgo ?? 0) + 1), far: Self.yearEnd)
        switch pattern {
        case .healthy:
            addSplit(window, [(p.owner, 0.4), (p.colleague, 0.3), (p.second, 0.3)], Self.window)
            addSplit(middle, [(p.owner, 0.5), (p.colleague, 0.5)], Self.middle)
            add(p.hunter, old, older)
        case .hunterStillServicing:
            addSplit(window, [(p.hunter, 0.4), (p.owner, 0.4), (p.colleague, 0.2)], Self.window)
            addSplit(middle, [(p.owner, 0.5), (p.hunter, 0.5)], Self.middle)
            add(p.hunter, old, older)
        case .singleThreaded:
            let colleague = max(1, window / 12)
            add(p.owner, window - colleague, Self.window)
            add(p.colleague, colleague, Self.window)
            addSplit(middle, [(p.owner, 0.5), (p.colleague, 0.5)], Self.middle)
            add(p.hunter, old, older)
        case .noBackup, .tooFewInteractions:
            add(p.owner, window, Self.window)
            add(p.owner, middle, Self.middle)
            add(p.hunter, old, older)
        case .bowTie:
            let parts = split(window, [0.65, 0.35])
            add(p.owner, parts[0], Self.window, .main)
            add(p.colleague, parts[1], Self.window, .none)
            addSplit(middle, [(p.owner, 0.5), (p.colleague, 0.5)], Self.middle)
            add(p.hunter, old, older)
        case .hunterNeverLetGo, .churned:
            add(p.hunter, window, Self.window, .main)
            add(p.hunter, middle, Self.middle)
            add(p.hunter, old, older)
        case .hunterInGrace:
            let handoff = handoffDaysAgo ?? 0
            let parts = split(window, [1, 1, 1, 1])
            add(p.leadGenerator, parts[0], (handoff + 0.5, Self.window.far))
            add(p.hunter, parts[1], (handoff + 0.5, Self.window.far))
            add(p.hunter, parts[2], (0.1, handoff - 0.5))
            add(p.owner, parts[3], (0.1, handoff - 0.5))
            addSplit(middle, [(p.hunter, 0.5), (p.leadGenerator, 0.5)], Self.middle)
            add(p.leadGenerator, old, older)
        case .lead:
            add(p.leadGenerator, window, Self.window, .main)
            add(p.leadGenerator, middle, Self.middle)
            add(p.leadGenerator, old, older)
        }
        return blocks
    }
}
