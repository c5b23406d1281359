import ConveyorCore
import ConveyorPostgres
import ConveyorProtocol
@testable import ConveyorStore
import Foundation
import SeededRandom
import Testing

/// `conveyor.handoff_explanation` rebuilds, for every handoff, exactly the
/// candidate table the routing policy saw (what the per-handoff layout
/// before migration 011 stored): each candidate's load, capacity, last
/// assignment to the microsecond and reasons, in bursts and trickles, for
/// handoffs, redistributions and manual reassignments, with fallbacks and
/// ties, while the team changes between rounds, and with two routers
/// taking turns. Earlier explanations never change afterwards.
@Suite struct ExplanationReconstructionTests {
    /// A decision and the handoff it wrote.
    struct Routed {
        let decision: RoutingDecision
        let handoffId: Int64
    }

    /// Routes the won accounts `refs` of the world's team in one batch on
    /// `connection`, as the handoff handler does; returns the decisions that chose.
    static func route(
        _ world: HandoffWorld, _ refs: [String], on connection: PostgresConnection? = nil, kind: HandoffKind = .auto,
        excluded: Set<Int64> = [], only: Int64? = nil
    ) throws -> [Routed] {
        let db = connection ?? world.db
        let routed = try db.transaction {
            let team = try #require(try HandoffRouter.lockTeam(db, id: world.teamId))
            let ids = try refs.map { try world.accountId($0) }
            let accounts = try HandoffRouter.accounts(db, ids: ids)
            return try HandoffRouter.route(
                db, team: team, accounts: ids.map { accounts[$0]! }, kind: kind, from: { $0.ownerId ?? $0.hunterId },
                excluded: excluded, only: only, detail: .full
            )
        }
        return try routed.filter { $0.decision.chosenRepId != nil }.map { result in
            let id = try world.db.query(
                "select max(id) as id from conveyor.handoffs where account_id = $1", [result.accountId]
            )[0]["id"].int64()
            return Routed(decision: result.decision, handoffId: id)
        }
    }

    static func explanation(_ world: HandoffWorld, _ handoffId: Int64) throws -> JSONValue {
        try JSONValue(parsing: try world.db.query("select conveyor.handoff_explanation($1)::text as e", [handoffId])[0]["e"].string())
    }

    /// The rebuilt table equals the policy's, field by field.
    static func expectExact(_ world: HandoffWorld, _ routed: [Routed], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for entry in routed {
            let explained = try explanation(world, entry.handoffId)
            let decision = entry.decision
            #expect(explained["reconstructed"]?.boolValue == true, sourceLocation: sourceLocation)
            #expect(explained["handoff"]?["rule"]?.stringValue == decision.rule?.rawValue, sourceLocation: sourceLocation)
            #expect(explained["handoff"]?["fallback_used"]?.boolValue == decision.fallbackUsed, sourceLocation: sourceLocation)
            let rows = explained["candidates"]?.arrayValue ?? []
            let actual = rows.map { row in
                Row(
                    repId: row["rep_id"]?.intValue ?? -1, owned: row["owned"]?.intValue ?? -1, capacity: row["capacity"]?.intValue ?? -1,
                    lastAssigned: row["last_assigned_at"]?.stringValue,
                    reasons: (row["excluded_because"]?.arrayValue ?? []).compactMap(\.stringValue),
                    verdict: row["verdict"]?.stringValue ?? ""
                )
            }
            let expected = decision.candidates.map { candidate in
                Row(
                    repId: candidate.repId, owned: Int64(candidate.owned), capacity: Int64(candidate.capacity),
                    lastAssigned: candidate.lastAssignedAt.map(Self.microsecondISO8601),
                    reasons: candidate.excludedBecause.map(\.rawValue),
                    verdict: candidate.repId == decision.chosenRepId ? "chosen"
                        : candidate.excludedBecause.isEmpty ? "eligible" : candidate.excludedBecause.map(\.rawValue).joined(separator: ", ")
                )
            }
            #expect(actual == expected, "handoff \(entry.handoffId)", sourceLocation: sourceLocation)
        }
    }

    /// A decision time as the full explanation writes it: ISO 8601, UTC, microseconds.
    static func microsecondISO8601(_ date: Date) -> String {
        let micros = CandidateSnapshot.micros(date)
        let (seconds, fraction) = micros.quotientAndRemainder(dividingBy: 1_000_000)
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
        return whole.dropLast() + String(format: ".%06lldZ", fraction)
    }

    struct Row: Equatable {
        let repId: Int64
        let owned: Int64
        let capacity: Int64
        let lastAssigned: String?
        let reasons: [String]
        let verdict: String
    }

    static func snapshots(_ world: HandoffWorld) throws -> Int {
        try world.count("select count(*)::int from conveyor.candidate_snapshots where team_id = $1", [world.teamId])
    }

    /// The full explanations of every handoff of the team, by id.
    static func allExplanations(_ world: HandoffWorld) throws -> [Int64: String] {
        var result: [Int64: String] = [:]
        for row in try world.db.query("""
            select h.id, conveyor.handoff_explanation(h.id)::text as e
            from conveyor.handoffs h join conveyor.accounts a on a.id = h.account_id where a.team_id = $1
            """, [world.teamId]) {
            result[try row["id"].int64()] = try row["e"].string()
        }
        return result
    }

    // MARK: scenarios

    @Test func burstsWithTiesOnLastAssignedAndIdAndSeveralHandoffsToOneManager() throws {
        let world = try HandoffWorld()
        try world.addManager("anna", capacity: 6)
        try world.addManager("boris", capacity: 6, skills: ["customs"])
        try world.addManager("clara", capacity: 6)
        for n in 1...12 { try world.win("b\(n)", hunter: n % 2 == 0 ? "ivan" : "lena", needs: n % 3 == 0 ? ["customs"] : []) }
        var routed: [Routed] = []
        for round in 0..<4 { routed += try Self.route(world, (1...3).map { "b\(round * 3 + $0)" }) }
        #expect(routed.count == 12)
        #expect(Set(routed.compactMap(\.decision.rule)).isSuperset(of: [.lowestId, .leastRecentlyAssigned]))
        #expect(Dictionary(grouping: routed, by: { $0.decision.chosenRepId! }).values.contains { $0.count > 1 })
        try Self.expectExact(world, routed)
        #expect(try Self.snapshots(world) == 1, "one snapshot for every round")
        try world.checkInvariants()
    }

    @Test func aTrickleTakesOneSnapshotUntilSomethingElseChangesTheTeam() throws {
        let world = try HandoffWorld()
        for ref in ["anna", "boris", "clara", "dora"] { try world.addManager(ref, capacity: 20) }
        var routed: [Routed] = []
        for n in 1...12 {
            try world.win("t\(n)")
            routed += try Self.route(world, ["t\(n)"])
        }
        #expect(try Self.snapshots(world) == 1, "wins one at a time share one snapshot")
        // Something other than a handoff changes the team: a new snapshot.
        try world.db.query("update conveyor.reps set capacity = 3 where ref = 'anna' and team_id = $1", [world.teamId])
        for n in 13...16 {
            try world.win("t\(n)")
            routed += try Self.route(world, ["t\(n)"])
        }
        #expect(try Self.snapshots(world) == 2)
        try Self.expectExact(world, routed)
    }

    @Test func theTeamChangesBetweenRoundsAndEarlierExplanationsStayAsTheyWere() throws {
        let world = try HandoffWorld()
        let anna = try world.addManager("anna", capacity: 3)
        try world.addManager("boris", capacity: 3, skills: ["customs"])
        try world.addManager("clara", capacity: 1)
        for n in 1...4 { try world.win("r\(n)") }
        var routed = try Self.route(world, (1...4).map { "r\($0)" })
        let before = try Self.allExplanations(world)

        // Capacity raised, someone away, someone departed.
        try world.db.query("update conveyor.reps set capacity = 6 where ref = 'clara' and team_id = $1", [world.teamId])
        try world.db.query("update conveyor.reps set away_until = now() + interval '1 day' where ref = 'boris' and team_id = $1", [world.teamId])
        for n in 5...7 { try world.win("r\(n)") }
        routed += try Self.route(world, (5...7).map { "r\($0)" })
        try world.db.query("update conveyor.reps set active = false where id = $1", [anna])
        let owned = try world.db.query(
            "select ref from conveyor.accounts where owner_id = $1 and stage = 'active' order by id", [anna]
        ).map { try $0["ref"].string() }
        routed += try Self.route(world, owned, kind: .redistribution, excluded: [anna])
        #expect(routed.contains { $0.decision.candidates.contains { $0.excludedBecause.contains(.departing) } })
        try Self.expectExact(world, routed)
        let after = try Self.allExplanations(world)
        for (id, text) in before { #expect(after[id] == text, "handoff \(id) changed after the team did") }
        #expect(try Self.snapshots(world) == 3)
    }

    @Test func aManualReassignmentIsExplainedAmongItsTargetAndTheFallbackSaysSo() throws {
        let world = try HandoffWorld()
        try world.db.query("update conveyor.teams set skills_fallback = true where id = $1", [world.teamId])
        try world.addManager("anna", capacity: 5)
        let boris = try world.addManager("boris", capacity: 5)
        try world.win("m1", needs: ["sea"])
        let auto = try Self.route(world, ["m1"])
        #expect(auto.first?.decision.fallbackUsed == true)
        let target = auto[0].decision.chosenRepId == boris ? try world.repId("anna") : boris
        let manual = try Self.route(world, ["m1"], kind: .manual, only: target)
        #expect(manual.first?.decision.candidates.map(\.repId) == [target])
        try Self.expectExact(world, auto + manual)
    }

    @Test func twoRoutersTakingTurnsOnOneTeamStayExact() throws {
        let world = try HandoffWorld()
        for ref in ["anna", "boris", "clara"] { try world.addManager(ref, capacity: 10) }
        let other = try TestPostgres.connect(world.conninfo)
        var routed: [Routed] = []
        for n in 1...8 {
            try world.win("x\(n)")
            routed += try Self.route(world, ["x\(n)"], on: n % 2 == 0 ? other : world.db)
        }
        try Self.expectExact(world, routed)
        #expect(try Self.snapshots(world) == 1, "the fingerprint lives in the database, not in one router")
    }

    @Test func aNewSnapshotEveryThousandHandoffs() throws {
        let world = try HandoffWorld()
        try world.addManager("anna", capacity: 2_000)
        try world.addManager("boris", capacity: 2_000, skills: ["quote\"d", "back\\slash", "comma,space x"])
        let hunter = try world.repId("ivan")
        try world.db.query("""
            insert into conveyor.accounts (team_id, ref, stage, hunter_id, won_at)
            select $1, 'k' || n, 'won', $2, now() from generate_series(1, 1010) as n
            """, [world.teamId, hunter])
        let first = try Self.route(world, (1...10).map { "k\($0)" })
        let second = try Self.route(world, (11...1010).map { "k\($0)" })
        #expect(try Self.snapshots(world) == 2, "the second batch would pass 1,000 handoffs on one snapshot")
        try Self.expectExact(world, first + second.prefix(3) + second.suffix(3))
    }

    /// Skills with quotes, backslashes, commas and spaces survive the snapshot.
    @Test func oddSkillsAreSnapshottedExactly() throws {
        let world = try HandoffWorld()
        let odd = ["quote\"d", "back\\slash", "comma,space x", "{braces}", "NULL", "ünï", "caf\u{E9}"]
        try world.addManager("anna", capacity: 10, skills: odd)
        try world.addManager("boris", capacity: 5, skills: Array(odd.prefix(2)))
        var routed: [Routed] = []
        // The last need is the decomposed spelling of the last skill: Swift calls them equal.
        for (n, need) in (odd.dropLast() + ["cafe\u{301}"]).enumerated() {
            try world.win("s\(n)", needs: [need])
            routed += try Self.route(world, ["s\(n)"])
        }
        #expect(routed.count == odd.count)
        try Self.expectExact(world, routed)
    }

    /// Deleting an account deletes its handoff: the later handoffs of the run
    /// can no longer be rebuilt exactly, and say so instead of showing loads
    /// that are too low.
    @Test func aDeletedAccountMakesTheRestOfItsRunSayItIsIncomplete() throws {
        let world = try HandoffWorld()
        try world.addManager("anna", capacity: 9)
        try world.addManager("boris", capacity: 9)
        for n in 1...4 { try world.win("d\(n)") }
        let routed = try Self.route(world, (1...4).map { "d\($0)" })
        try world.db.query("delete from conveyor.accounts where ref = 'd2' and team_id = $1", [world.teamId])
        let first = try Self.explanation(world, routed[0].handoffId)
        #expect(first["reconstructed"]?.boolValue == true, "before the deleted one: still exact")
        for entry in routed.suffix(2) {
            let later = try Self.explanation(world, entry.handoffId)
            #expect(later["reconstructed"]?.boolValue == false)
            #expect(later["incomplete"]?.stringValue?.hasPrefix("1 of the") == true, "\(later)")
            #expect(later["candidates"]?.arrayValue?.count == 2)
        }
    }

    /// A snapshot whose handoffs were all deleted (with their accounts) is
    /// pruned; one that a handoff still names, and the team's current one,
    /// stay, and the handoffs left keep their exact explanations.
    @Test func snapshotsNoHandoffNamesArePrunedAndTheOthersStay() throws {
        let world = try HandoffWorld()
        try world.addManager("anna", capacity: 9)
        try world.addManager("boris", capacity: 9)
        var runs: [[Routed]] = []
        for (run, capacity) in [10, 11, 12].enumerated() {
            try world.db.query("update conveyor.reps set capacity = $2 where ref = 'anna' and team_id = $1", [world.teamId, capacity])
            for n in 1...2 { try world.win("p\(run)-\(n)") }
            runs.append(try Self.route(world, ["p\(run)-1", "p\(run)-2"]))
        }
        func snapshotIds() throws -> [Int64] {
            try world.db.query("select id from conveyor.candidate_snapshots where team_id = $1 order by id", [world.teamId])
                .map { try $0["id"].int64() }
        }
        let taken = try snapshotIds()
        #expect(taken.count == 3, "a capacity changed before each run")
        // One cursor throughout, as housekeeping keeps it.
        var cursor = UnusedSnapshots.Cursor()
        #expect(try UnusedSnapshots.prune(world.db, from: &cursor) == 0, "every snapshot is named")

        // The first run loses its second account, the second and third runs all of theirs.
        try world.db.query("""
            delete from conveyor.accounts where team_id = $1 and ref in ('p0-2', 'p1-1', 'p1-2', 'p2-1', 'p2-2')
            """, [world.teamId])
        #expect(try UnusedSnapshots.prune(world.db, from: &cursor) == 1)
        #expect(try snapshotIds() == [taken[0], taken[2]], "the first is still named, the last is the team's current one")
        try Self.expectExact(world, [runs[0][0]])
        #expect(try UnusedSnapshots.prune(world.db, from: &cursor) == 0)

        // The deletions changed the managers' loads: the next run takes a
        // snapshot of its own, and the one before it is unused now.
        try world.win("p3-1")
        let next = try Self.route(world, ["p3-1"])
        let latest = try snapshotIds()
        #expect(latest.count == 3 && latest.prefix(2) == [taken[0], taken[2]])
        #expect(try UnusedSnapshots.prune(world.db, from: &cursor) == 1, "an older one, behind the newest")
        #expect(try snapshotIds() == [taken[0], latest[2]])
        try Self.expectExact(world, [runs[0][0]] + next)

        // A window of one: each round looks at the next snapshot, and the
        // round after the last, finding none, sends the cursor back to the
        // beginning.
        try world.db.query("insert into conveyor.candidate_snapshots (team_id, candidates) values ($1, '[]'), ($1, '[]')", [world.teamId])
        var windowed = UnusedSnapshots.Cursor(), deleted: [Int] = []
        for _ in 0..<5 { deleted.append(try UnusedSnapshots.prune(world.db, from: &windowed, window: 1)) }
        #expect(deleted == [0, 0, 1, 1, 0], "kept, kept, unused, unused, past the end")
        #expect(windowed == UnusedSnapshots.Cursor())
        #expect(try snapshotIds() == [taken[0], latest[2]])

        // A snapshot that falls out of use behind the cursor is found on the next sweep.
        #expect(try UnusedSnapshots.prune(world.db, from: &windowed, window: 1) == 0, "the first is still named")
        try world.db.query("delete from conveyor.accounts where team_id = $1 and ref = 'p0-1'", [world.teamId])
        deleted = try (0..<3).map { _ in try UnusedSnapshots.prune(world.db, from: &windowed, window: 1) }
        #expect(deleted == [0, 0, 1], "the current one, past the end, then the first again")
        #expect(try snapshotIds() == [latest[2]])
    }

    // MARK: properties

    /// Random teams and rounds of random wins, with random changes between
    /// rounds: every rebuilt table equals what the policy saw, and no
    /// explanation changes once written.
    @Test(arguments: UInt64(0)..<12)
    func randomTeamsAndWinSequencesAreRebuiltExactly(seed: UInt64) throws {
        var random = SplitMix64(state: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let world = try HandoffWorld()
        if Int.random(in: 0..<2, using: &random) == 0 {
            try world.db.query("update conveyor.teams set skills_fallback = true where id = $1", [world.teamId])
        }
        let skills = ["rail", "customs", "sea"]
        var managers: [Int64] = []
        for index in 0..<(1 + Int.random(in: 0..<10, using: &random)) {
            let own = skills.filter { _ in Int.random(in: 0..<2, using: &random) == 0 }
            managers.append(try world.addManager("am\(index)", capacity: Int.random(in: 0..<5, using: &random), skills: own))
        }
        var routed: [Routed] = []
        var written: [Int64: String] = [:]
        var account = 0
        for _ in 0..<(2 + Int.random(in: 0..<4, using: &random)) {
            // A change between rounds, or none.
            let rep = managers[Int.random(in: 0..<managers.count, using: &random)]
            switch Int.random(in: 0..<6, using: &random) {
            case 0: try world.db.query("update conveyor.reps set capacity = capacity + 2 where id = $1", [rep])
            case 1: try world.db.query("update conveyor.reps set away_until = now() + interval '1 hour' where id = $1", [rep])
            case 2: try world.db.query("update conveyor.reps set away_until = null where id = $1", [rep])
            case 3: try world.db.query("update conveyor.reps set active = false where id = $1", [rep])
            case 4: try world.db.query(
                "update conveyor.accounts set stage = 'churned' where id = (select min(id) from conveyor.accounts where stage = 'active' and team_id = $1)",
                [world.teamId])
            default: break
            }
            var refs: [String] = []
            for _ in 0..<(1 + Int.random(in: 0..<6, using: &random)) {
                account += 1
                let needs = skills.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }
                try world.win("p\(account)", hunter: Int.random(in: 0..<2, using: &random) == 0 ? "ivan" : "lena", needs: needs)
                refs.append("p\(account)")
            }
            // Sometimes a burst, sometimes one at a time.
            if Int.random(in: 0..<2, using: &random) == 0 {
                routed += try Self.route(world, refs)
            } else {
                for ref in refs { routed += try Self.route(world, [ref]) }
            }
            for (id, text) in try Self.allExplanations(world) {
                if let earlier = written[id] { #expect(earlier == text, "seed \(seed): handoff \(id) changed") }
                written[id] = text
            }
        }
        try Self.expectExact(world, routed)
    }
}
