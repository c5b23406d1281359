import Foundation

/// A freight forwarder's year, generated from a seed: per team its lead
/// generators, closers and account managers, its accounts (mostly active,
/// handed off, each attached in one `AttachmentPattern`, in the shares of the
/// spec's mix), their deals over the trailing year and exactly the requested
/// number of interactions; and the ground truth a correct scan finds.
/// The same spec gives the same plan, to the last interaction.
public enum FreightYear {
    /// The plan of the year `spec` describes; throws `FixtureError` for sizes out of range.
    public static func plan(_ spec: YearSpec) throws -> YearPlan {
        try spec.validate()
        let teams = spec.teams.enumerated().map { index, size in
            team(size, mix: spec.mix, random: Random(seed: spec.seed, stream: UInt64(index)))
        }
        return YearPlan(spec: spec, teams: teams, truth: truth(teams))
    }

    private static func team(_ size: TeamSize, mix: AttachmentMix, random start: Random) -> TeamPlan {
        var random = start
        let managers = max(3, size.accounts / 400)
        let closers = max(2, managers / 3), leadGenerators = max(2, managers / 4)
        var patterns = mix.counts(accounts: size.accounts).sorted { $0.key.rawValue < $1.key.rawValue }
            .flatMap { Array(repeating: $0.key, count: $0.value) }
        random.shuffle(&patterns)
        let totals = interactionTotals(patterns, interactions: size.interactions, &random)
        // Reps by index: lead generators, then closers, then account managers.
        let firstCloser = leadGenerators, firstManager = leadGenerators + closers
        let staff = Names.staffRegion(timeZone: size.timeZone)
        var owned = Array(repeating: 0, count: managers)
        var accounts: [AccountPlan] = []
        accounts.reserveCapacity(size.accounts)
        let width = max(6, String(size.accounts).count)
        for (index, pattern) in patterns.enumerated() {
            let owner = index % managers
            let first = 1 + random.below(managers - 1)
            var second = 1 + random.below(managers - 2)
            if second >= first { second += 1 }
            let people = PatternBlocks.People(
                hunter: firstCloser + random.below(closers), leadGenerator: random.below(leadGenerators),
                owner: firstManager + owner, colleague: firstManager + (owner + first) % managers,
                second: firstManager + (owner + second) % managers)
            if pattern.stage == "active" { owned[owner] += 1 }
            let handoff = PatternBlocks.handoffDaysAgo(pattern, &random)
            let company = Names.company(&random)
            let deals = dealPlan(pattern, &random)
            let isLead = pattern == .lead
            accounts.append(AccountPlan(
                ref: String(format: "acct-%0\(width)d", index + 1),
                name: company.name, pattern: pattern,
                needs: random.below(4) == 0 ? ["rail"] : [],
                value: max(500, Int(deals.amount * deals.marginPercent * 3 / 100 / 100) * 100),
                hunter: isLead ? nil : people.hunter, owner: isLead ? nil : people.owner,
                wonDaysAgo: handoff.map { $0 + random.uniform(0.5...3) }, handedOffDaysAgo: handoff,
                contacts: contacts(company.region, &random),
                blocks: PatternBlocks.blocks(pattern, total: totals[index], people: people, handoffDaysAgo: handoff, &random),
                deals: deals))
        }
        var reps: [RepPlan] = []
        func ref(_ prefix: String, _ n: Int) -> String { prefix + "-" + String(format: "%03d", n) }
        for n in 0..<leadGenerators {
            reps.append(RepPlan(ref: ref("lg", n + 1), name: staff.person(&random), role: "lead_generator", capacity: 0, skills: []))
        }
        for n in 0..<closers {
            reps.append(RepPlan(ref: ref("closer", n + 1), name: staff.person(&random), role: "closer", capacity: 0, skills: []))
        }
        for n in 0..<managers {
            let skills = ["rail"] + (n % 2 == 0 ? ["customs"] : []) + (n % 3 == 0 ? ["reefer"] : [])
            reps.append(RepPlan(ref: ref("am", n + 1), name: staff.person(&random), role: "account_manager",
                                capacity: owned[n] + owned[n] / 4 + 5, skills: skills))
        }
        return TeamPlan(size: size, reps: reps, accounts: accounts)
    }

    /// Each account's interactions over the year, adding up to `interactions`:
    /// its pattern's minimum, plus a share of the rest by a random weight.
    private static func interactionTotals(_ patterns: [AttachmentPattern], interactions: Int, _ random: inout Random) -> [Int] {
        let minimums = patterns.map(PatternBlocks.minimumTotal)
        let weights = patterns.map { _ in random.uniform(0.25...1.75) }
        let extra = interactions - minimums.reduce(0, +), weightSum = weights.reduce(0, +)
        var totals = zip(minimums, weights).map { $0 + Int(Double(extra) * $1 / weightSum) }
        let left = interactions - totals.reduce(0, +)
        for index in 0..<left { totals[index % totals.count] += 1 }
        return totals
    }

    /// Three different people of a client: a (rep, contact) pair must not merge two of them.
    private static func contacts(_ region: Names.Region, _ random: inout Random) -> [String] {
        var contacts: [String] = []
        while contacts.count < 3 {
            let person = region.person(&random)
            if !contacts.contains(person) { contacts.append(person) }
        }
        return contacts
    }

    private static func dealPlan(_ pattern: AttachmentPattern, _ random: inout Random) -> DealPlan {
        let amount = exp(random.uniform(log(8_000)...log(250_000)))
        let marginPercent = random.uniform(6...18)
        switch pattern {
        case .lead:
            return DealPlan(count: 0, amount: amount, marginPercent: marginPercent, nearDaysAgo: 0, farDaysAgo: 0)
        case .churned:
            return DealPlan(count: random.below(3), amount: amount, marginPercent: marginPercent, nearDaysAgo: 200, farDaysAgo: 364)
        default:
            return DealPlan(count: random.below(7), amount: amount, marginPercent: marginPercent, nearDaysAgo: 3, farDaysAgo: 360)
        }
    }

    private static func truth(_ teams: [TeamPlan]) -> GroundTruth {
        var alerts: [ExpectedAlert] = []
        for team in teams {
            for account in team.accounts {
                for kind in account.pattern.expectedKinds {
                    let onHunter = account.pattern == .hunterNeverLetGo || account.pattern == .hunterStillServicing
                    let rep = team.reps[(onHunter ? account.hunter : account.owner) ?? 0].ref
                    alerts.append(ExpectedAlert(team: team.size.name, account: account.ref, kind: kind, rep: rep))
                }
            }
        }
        func count(_ include: (AttachmentPattern) -> Bool) -> [String: Int] {
            Dictionary(uniqueKeysWithValues: teams.map { team in
                (team.size.name, team.accounts.count { include($0.pattern) })
            })
        }
        return GroundTruth(
            alerts: alerts.sorted(),
            scanned: count { $0.stage == "active" },
            notScored: count { $0 == .tooFewInteractions },
            overlaps: GroundTruth.overlapNotes)
    }
}
