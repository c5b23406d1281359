import ConveyorCore
@testable import ConveyorStore
import Foundation
import Testing

/// The stored explanation (`Explanation`): what the router writes, read back
/// by `Explanation.decode`, and the first release's layout still read.
@Suite struct StoredExplanationTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    static func manager(_ id: Int64, owned: Int, lastAssignedAt: Date? = nil, skills: Set<String> = []) -> Candidate {
        Candidate(id: id, ref: "am-\(id)", role: .accountManager, capacity: 4, skills: skills, owned: owned, lastAssignedAt: lastAssignedAt)
    }

    /// Two decisions of one batch: the second sees the first's assignment.
    static func lines() -> (Explanation.Lines, [RoutingDecision]) {
        var team = [
            manager(3, owned: 4),
            manager(5, owned: 1, lastAssignedAt: now.addingTimeInterval(-1.5), skills: ["customs"]),
            manager(9, owned: 1),
        ]
        let decisions = RoutingPolicy().route(
            batch: [RoutingRequest(accountId: 70, hunterId: 9, needs: []), RoutingRequest(accountId: 71, needs: ["customs"])],
            candidates: &team, now: now
        )
        var lines = Explanation.Lines(decisions: decisions.count, candidates: team.count)
        for decision in decisions { lines.append(kind: .auto, decision: decision) }
        return (lines, decisions)
    }

    @Test func eachExplanationIsOneLineOfJSONWithOneStringPerCandidate() throws {
        let (lines, _) = Self.lines()
        let texts = lines.text.split(separator: "\n").map(String.init)
        #expect(texts.count == 2)
        let first = try #require(JSONSerialization.jsonObject(with: Data(texts[0].utf8)) as? [String: Any])
        #expect(first["kind"] as? String == "auto" && first["account_id"] as? Int == 70 && first["chosen_rep_id"] as? Int == 5)
        #expect(first["rule"] as? String == "only_candidate" && first["fallback_used"] as? Bool == false)
        #expect(first["decided_at"] as? String == "2023-11-14T22:13:20.000Z")
        #expect(first["candidate_fields"] as? [String] == ["rep_id", "owned", "capacity", "last_assigned_ms_ago", "excluded_because"])
        #expect(first["candidates"] as? [String] == ["3 4 4 - at_capacity", "5 1 4 1500 -", "9 1 4 - hunter"])
        let second = try #require(JSONSerialization.jsonObject(with: Data(texts[1].utf8)) as? [String: Any])
        // am-5 took the first account at `now`: its load and last assignment changed, nothing else.
        #expect(second["candidates"] as? [String] == ["3 4 4 - at_capacity,skills", "5 2 4 0 -", "9 1 4 - skills"])
    }

    @Test func decodeReadsBackWhatWasWritten() throws {
        let (lines, decisions) = Self.lines()
        for (text, decision) in zip(lines.text.split(separator: "\n"), decisions) {
            let stored = try Explanation.decode(String(text))
            #expect(stored.kind == "auto" && stored.chosenRepId == decision.chosenRepId && stored.rule == decision.rule?.rawValue)
            #expect(stored.fallbackUsed == false && stored.decidedAt == Self.now)
            #expect(stored.candidates.map(\.repId) == decision.candidates.map(\.repId))
            #expect(stored.candidates.map(\.owned) == decision.candidates.map(\.owned))
            #expect(stored.candidates.map(\.capacity) == decision.candidates.map(\.capacity))
            #expect(stored.candidates.map(\.lastAssignedAt) == decision.candidates.map(\.lastAssignedAt))
            #expect(stored.candidates.map(\.excludedBecause) == decision.candidates.map { $0.excludedBecause.map(\.rawValue) })
        }
    }

    @Test func decodeReadsTheFirstReleaseLayout() throws {
        let stored = try Explanation.decode("""
            {"kind": "redistribution", "account_id": 7, "chosen_rep_id": 3, "rule": "lowest_id", "fallback_used": true,
             "decided_at": "2026-11-29T06:40:00.000Z",
             "candidate_fields": ["rep_id", "owned", "capacity", "last_assigned_ms", "excluded_because"],
             "candidates": [[3, 4, 30, 1700000000000, []], [5, 30, 0, null, ["at_capacity", "skills"]]]}
            """)
        #expect(stored.kind == "redistribution" && stored.chosenRepId == 3 && stored.rule == "lowest_id" && stored.fallbackUsed == true)
        #expect(stored.candidates == [
            .init(repId: 3, owned: 4, capacity: 30, lastAssignedAt: Self.now, excludedBecause: []),
            .init(repId: 5, owned: 30, capacity: 0, lastAssignedAt: nil, excludedBecause: ["at_capacity", "skills"]),
        ])
        #expect(stored.candidates.map(\.utilization) == [4.0 / 30.0, nil])
    }

    @Test func decodeRefusesWhatIsNoExplanation() {
        for text in ["", "not json", "[1, 2]", #"{"candidates": 5}"#,
                     #"{"candidate_fields": ["rep_id", "owned"], "candidates": ["1 2 3"]}"#,
                     #"{"candidate_fields": ["rep_id"], "candidates": [{"rep_id": 1}]}"#] {
            #expect(throws: (any Error).self, "\(text)") { try Explanation.decode(text) }
        }
    }

    @Test func payloadsDecodeInOnePassAndAMalformedOneFailsAlone() throws {
        struct Payload: Decodable, Equatable { let n: Int }
        func job(_ id: Int64, _ payload: String) -> ClaimedJob {
            ClaimedJob(id: id, kind: "k", payload: payload, attempts: 0, maxAttempts: 3, teamId: nil)
        }
        let good = [job(1, #"{"n": 1}"#), job(2, #"{"n": 2, "extra": [1, 2]}"#)]
        #expect(try good.decodePayloads(Payload.self).map { try $0.payload.get() } == [Payload(n: 1), Payload(n: 2)])

        let mixed = [job(1, #"{"n": 1}"#), job(2, #"{"n": "two"}"#), job(3, "{"), job(4, #"{"n": 4}"#)]
        let results = mixed.decodePayloads(Payload.self)
        #expect(results.map(\.job.id) == [1, 2, 3, 4])
        #expect(try results[0].payload.get() == Payload(n: 1) && results[3].payload.get() == Payload(n: 4))
        for index in [1, 2] {
            #expect(throws: JobFailure.self) { try results[index].payload.get() }
        }
    }
}
