import ConveyorFixtures

/// The attachment rules evaluated on one account's plan (its blocks, not
/// rows), at the default thresholds moved by `shareNudge` (shares) and
/// `countNudge` (counts and days): a generated account's kinds must not move
/// with them, or its truth would hang on a margin.
struct RuleOracle {
    let kinds: Set<AlertKind>

    init(account: AccountPlan, shareNudge: Double, countNudge: Int) {
        let window = Double(90 + countNudge), backup = Double(180 + countNudge)
        let minimum = 6 + countNudge, grace = Double(14 + countNudge)
        func inside(_ block: InteractionBlock, _ days: Double) -> Bool {
            precondition(block.farDaysAgo <= days || block.nearDaysAgo >= days, "a block straddles a boundary")
            return block.farDaysAgo <= days
        }
        let recent = account.blocks.filter { inside($0, window) }
        let windowCount = recent.map(\.count).reduce(0, +)
        guard account.pattern.stage == "active", windowCount >= minimum else {
            kinds = []
            return
        }
        var kinds: Set<AlertKind> = []
        var byRep: [Int: Int] = [:]
        var byPair: [String: Int] = [:]
        for block in recent {
            byRep[block.rep, default: 0] += block.count
            for g in 1...block.count {
                let contact: String? = switch block.contacts {
                case .none: nil
                case .main: account.contacts[0]
                case .rotating: (g - 1) % 4 < 3 ? account.contacts[(g - 1) % 4] : nil
                }
                if let contact { byPair["\(block.rep) \(contact)", default: 0] += 1 }
            }
        }
        if let handoff = account.handedOffDaysAgo, handoff >= grace {
            let since = recent.filter { $0.farDaysAgo < handoff }
            let hunter = since.filter { $0.rep == account.hunter }.map(\.count).reduce(0, +)
            if hunter > 0, Double(hunter) >= (0.25 + shareNudge) * Double(since.map(\.count).reduce(0, +)) {
                kinds.insert(.hunterStillServicing)
            }
        }
        if Double(byRep.values.max() ?? 0) >= (0.80 + shareNudge) * Double(windowCount) { kinds.insert(.singleThreaded) }
        let lastMonths = account.blocks.filter { inside($0, backup) }
        if Set(lastMonths.map(\.rep)).count == 1, lastMonths.map(\.count).reduce(0, +) >= minimum { kinds.insert(.noBackup) }
        let named = byPair.values.reduce(0, +)
        if named >= minimum, Double(byPair.values.max() ?? 0) >= (0.70 + shareNudge) * Double(named) { kinds.insert(.bowTie) }
        self.kinds = kinds
    }
}
