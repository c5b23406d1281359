import ConveyorCore
import ConveyorProtocol
@testable import ConveyorStore
import Foundation
import Testing

/// The stored explanation: the summary the router writes (constant size),
/// and `conveyor.handoff_explanation` reading rows written before migration
/// 011, rows an integration wrote by hand, and ids that do not exist.
@Suite struct StoredExplanationTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    static func manager(_ id: Int64, owned: Int, lastAssignedAt: Date? = nil, skills: Set<String> = []) -> Candidate {
        Candidate(id: id, ref: "am-\(id)", role: .accountManager, capacity: 4, skills: skills, owned: owned, lastAssignedAt: lastAssignedAt)
    }

    static func summary(of decision: RoutingDecision, _ inputs: Explanation.Inputs) throws -> [String: Any] {
        var lines = Explanation.Lines(decisions: 1)
        lines.append(kind: .auto, decision: decision, inputs: inputs, position: 7)
        #expect(!lines.text.contains("\n"))
        return try #require(JSONSerialization.jsonObject(with: Data(lines.text.utf8)) as? [String: Any])
    }

    @Test func theSummaryNamesTheRuleTheChosenTheRunnerUpAndTheExclusions() throws {
        var team = [
            Self.manager(3, owned: 4),
            Self.manager(5, owned: 1, lastAssignedAt: Self.now.addingTimeInterval(-1.5), skills: ["customs"]),
            Self.manager(7, owned: 1, skills: ["customs"]),
            Self.manager(9, owned: 1),
        ]
        let decision = RoutingPolicy().route(
            RoutingRequest(accountId: 70, hunterId: 9, needs: ["customs"]), candidates: &team, now: Self.now
        )
        let inputs = Explanation.Inputs(hunterId: 9, needs: ["customs", "quote\"d"], excludedRepIds: [11, 2], onlyRepId: nil, skillsFallback: false)
        let object = try Self.summary(of: decision, inputs)
        #expect(object["layout"] as? String == "summary" && object["kind"] as? String == "auto")
        #expect(object["account_id"] as? Int == 70 && object["chosen_rep_id"] as? Int == 7)
        #expect(object["rule"] as? String == "least_recently_assigned" && object["fallback_used"] as? Bool == false)
        #expect(object["decided_at"] as? String == "2023-11-14T22:13:20.000Z")
        let chosen = try #require(object["chosen"] as? [String: Any])
        #expect(chosen["rep_id"] as? Int == 7 && chosen["owned"] as? Int == 1 && chosen["capacity"] as? Int == 4)
        #expect(chosen["utilization"] as? Double == 0.25 && chosen["last_assigned_at"] is NSNull && chosen["lost_on"] == nil)
        let runnerUp = try #require(object["runner_up"] as? [String: Any])
        #expect(runnerUp["rep_id"] as? Int == 5 && runnerUp["lost_on"] as? String == "least_recently_assigned")
        #expect(runnerUp["last_assigned_at"] as? String == "2023-11-14T22:13:18.500Z")
        #expect(object["considered"] as? Int == 4 && object["eligible"] as? Int == 2 && object["run_position"] as? Int == 7)
        #expect(object["excluded"] as? [String: Int] == [
            "inactive": 0, "away": 0, "hunter": 1, "departing": 0, "at_capacity": 1, "skills": 2,
        ])
        let stored = try #require(object["inputs"] as? [String: Any])
        #expect(stored["hunter_id"] as? Int == 9 && stored["needs"] as? [String] == ["customs", "quote\"d"])
        #expect(stored["excluded_rep_ids"] as? [Int] == [2, 11] && stored["only_rep_id"] is NSNull)
        #expect(stored["skills_fallback"] as? Bool == false)
    }

    /// Utilization is rounded half up in integers, as the full table does
    /// (201 / 400 is 0.5025: a Double's 502.49999… would say 0.502).
    @Test func utilizationRoundsAsTheFullTableDoes() throws {
        var team = [Candidate(id: 1, ref: "a", role: .accountManager, capacity: 400, owned: 201),
                    Candidate(id: 2, ref: "b", role: .accountManager, capacity: 3, owned: 0)]
        team[1].capacity = 3
        let decision = RoutingPolicy().route(RoutingRequest(accountId: 1), candidates: &team, now: Self.now)
        let object = try Self.summary(of: decision, .init(hunterId: nil, needs: [], excludedRepIds: [], onlyRepId: nil, skillsFallback: false))
        let text = try #require(String(data: JSONSerialization.data(withJSONObject: object), encoding: .utf8))
        #expect((object["chosen"] as? [String: Any])?["rep_id"] as? Int == 2)
        #expect((object["runner_up"] as? [String: Any])?["utilization"] as? Double == 0.503, "\(text)")
    }

    /// The summary does not grow with the team.
    @Test func theSummaryHasTheSameSizeForTenAndFiveHundredManagers() throws {
        func size(_ managers: Int) -> Int {
            var team = (1...managers).map { Self.manager(Int64($0), owned: $0 % 3, lastAssignedAt: Self.now.addingTimeInterval(-Double($0))) }
            let decision = RoutingPolicy().route(RoutingRequest(accountId: 1, hunterId: nil), candidates: &team, now: Self.now)
            var lines = Explanation.Lines(decisions: 1)
            lines.append(kind: .auto, decision: decision, inputs: .init(hunterId: nil, needs: [], excludedRepIds: [], onlyRepId: nil, skillsFallback: false), position: 999)
            return lines.text.utf8.count
        }
        #expect(abs(size(500) - size(10)) <= 8, "\(size(10)) bytes at 10 managers, \(size(500)) at 500")
        #expect(size(500) < 1024)
    }

    // MARK: conveyor.handoff_explanation of rows it did not write

    /// A team with two managers (anna, boris) and one account, and a
    /// handoff row to anna whose `explanation` is given their ids.
    static func handoff(_ explanation: (_ anna: Int64, _ boris: Int64) -> String) throws -> (world: HandoffWorld, id: Int64) {
        let world = try HandoffWorld()
        let anna = try world.addManager("anna", capacity: 30)
        let boris = try world.addManager("boris", capacity: 30)
        let account = try world.db.query(
            "insert into conveyor.accounts (team_id, ref, stage, owner_id) values ($1, 'acme', 'active', $2) returning id",
            [world.teamId, anna]
        )[0]["id"].int64()
        let id = try world.db.query("""
            insert into conveyor.handoffs (account_id, to_rep_id, kind, explanation, created_at)
            values ($1, $2, 'manual', $3::jsonb, '2026-11-29T06:40:00Z') returning id
            """, [account, anna, explanation(anna, boris)])[0]["id"].int64()
        return (world, id)
    }

    static func full(_ world: HandoffWorld, _ id: Int64) throws -> JSONValue? {
        let text = try world.db.query("select conveyor.handoff_explanation($1)::text as e", [id])[0]["e"].optionalString()
        return try text.map { try JSONValue(parsing: $0) }
    }

    /// Explanations written before migration 011 held the full table: read as stored, marked so.
    @Test func explanationsOfTheEarlierLayoutsReadAsWritten() throws {
        let (world, id) = try Self.handoff { anna, boris in """
            {"kind": "manual", "account_id": 1, "chosen_rep_id": \(anna), "rule": "only_candidate", "fallback_used": false,
             "decided_at": "2026-11-29T06:40:00.000Z",
             "candidate_fields": ["rep_id", "owned", "capacity", "last_assigned_ms_ago", "excluded_because"],
             "candidates": ["\(anna) 4 30 5200 -", "\(boris) 30 30 - at_capacity,skills"]}
            """ }
        let explained = try #require(try Self.full(world, id))
        #expect(explained["reconstructed"]?.boolValue == false)
        #expect(explained["handoff"]?["rule"]?.stringValue == "only_candidate" && explained["handoff"]?["to"]?.stringValue == "anna")
        let rows = try #require(explained["candidates"]?.arrayValue)
        #expect(rows.map { $0["rep"]?.stringValue } == ["anna", "boris"])
        #expect(rows.map { $0["verdict"]?.stringValue } == ["chosen", "at_capacity, skills"])
        #expect(rows.map { $0["owned"]?.intValue } == [4, 30] && rows.map { $0["capacity"]?.intValue } == [30, 30])
        #expect(rows[0]["last_assigned_at"]?.stringValue == "2026-11-29T06:39:54.800000Z" && rows[1]["last_assigned_at"] == .null)
        #expect(rows[0]["utilization"]?.doubleValue == 0.133 && rows[1]["utilization"]?.doubleValue == 1)

        // The first release: an array of fields per candidate, last assignment in Unix milliseconds.
        let (first, firstId) = try Self.handoff { anna, boris in """
            {"kind": "redistribution", "account_id": 7, "chosen_rep_id": \(anna), "rule": "lowest_id", "fallback_used": true,
             "decided_at": "2026-11-29T06:40:00.000Z",
             "candidate_fields": ["rep_id", "owned", "capacity", "last_assigned_ms", "excluded_because"],
             "candidates": [[\(anna), 4, 30, 1700000000000, []], [\(boris), 30, 0, null, ["at_capacity", "skills"]]]}
            """ }
        let old = try #require(try Self.full(first, firstId))
        let oldRows = try #require(old["candidates"]?.arrayValue)
        #expect(old["handoff"]?["fallback_used"]?.boolValue == true)
        #expect(oldRows.map { $0["verdict"]?.stringValue } == ["chosen", "at_capacity, skills"])
        #expect(oldRows[0]["last_assigned_at"]?.stringValue == "2023-11-14T22:13:20.000000Z")
        #expect(oldRows[1]["utilization"] == .null, "capacity 0 has no utilization")
    }

    /// Whatever an integration stored is returned as it is, marked as not reconstructed.
    @Test func handWrittenExplanationsAreReturnedAsStored() throws {
        for text in [#"{}"#, #"{"note": "moved by hand"}"#, #"[1, 2]"#, #""just text""#,
                     #"{"candidate_fields": ["rep_id"], "candidates": ["x y z"], "decided_at": "not a time"}"#,
                     #"{"candidate_fields": ["rep_id", "owned"], "candidates": ["1 two"], "decided_at": "2026-11-29T06:40:00Z"}"#,
                     #"{"layout": "summary", "rule": "lowest_id"}"#] {
            let (world, id) = try Self.handoff { _, _ in text }
            let explained = try #require(try Self.full(world, id), "\(text)")
            #expect(explained["reconstructed"]?.boolValue == false, "\(text)")
            #expect(explained["stored"] == (try JSONValue(parsing: text)), "\(text): \(explained)")
            #expect(explained["handoff"]?["to"]?.stringValue == "anna", "\(text)")
        }
    }

    @Test func anUnknownHandoffHasNoExplanation() throws {
        let world = try HandoffWorld()
        for id in [Int64(0), -1, 987_654_321, .max] {
            #expect(try world.db.query("select conveyor.handoff_explanation($1) is null as missing", [id])[0]["missing"].bool())
        }
        #expect(try world.db.query("select conveyor.handoff_explanation(null) is null as missing")[0]["missing"].bool())
    }
}
