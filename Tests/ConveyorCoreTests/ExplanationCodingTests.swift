import ConveyorCore
import Foundation
import Testing

@Suite struct ExplanationCodingTests {
    /// One chosen decision and one waiting decision, from a small team.
    static func decisions() -> (chosen: RoutingDecision, waiting: RoutingDecision) {
        var team = [
            manager(2, capacity: 4, owned: 1, skills: ["rail"], lastAssignedAt: t0.addingTimeInterval(-86_400)),
            Candidate(id: 1, ref: "hunter", role: .closer, capacity: 0),
            manager(3, capacity: 1, owned: 1),
        ]
        let policy = RoutingPolicy()
        let chosen = policy.route(RoutingRequest(accountId: 42, hunterId: 1, needs: ["rail"]), candidates: &team, now: t0)
        let waiting = policy.route(RoutingRequest(accountId: 43, needs: ["sea"]), candidates: &team, now: t0)
        return (chosen, waiting)
    }

    func object(_ decision: RoutingDecision, _ encoder: JSONEncoder = JSONEncoder()) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: encoder.encode(decision)) as? [String: Any])
    }

    @Test func snakeCaseKeysAndExplicitNulls() throws {
        let (chosen, waiting) = Self.decisions()
        let top = try object(chosen)
        #expect(Set(top.keys) == ["account_id", "chosen_rep_id", "rule", "fallback_used", "candidates", "waiting_reason", "decided_at"])
        #expect(top["account_id"] as? Int == 42)
        #expect(top["chosen_rep_id"] as? Int == 2)
        #expect(top["rule"] as? String == "only_candidate")
        #expect(top["fallback_used"] as? Bool == false)
        #expect(top["waiting_reason"] is NSNull)
        #expect(top["decided_at"] as? String == "2023-11-14T22:13:20.000Z")

        let candidates = try #require(top["candidates"] as? [[String: Any]])
        #expect(candidates.count == 3)
        #expect(Set(candidates[0].keys) == ["rep_id", "ref", "role", "owned", "capacity", "utilization", "excluded_because", "last_assigned_at"])
        #expect(candidates.map { $0["rep_id"] as? Int } == [1, 2, 3])
        #expect(candidates[0]["role"] as? String == "closer")
        #expect(candidates[0]["excluded_because"] as? [String] == ["not_account_manager", "hunter", "at_capacity", "skills"])
        #expect(candidates[0]["last_assigned_at"] is NSNull)
        #expect(candidates[1]["last_assigned_at"] as? String == "2023-11-13T22:13:20.000Z")
        #expect(candidates[1]["utilization"] as? Double == 0.25)
        #expect(candidates[2]["excluded_because"] as? [String] == ["at_capacity", "skills"])

        let waitingTop = try object(waiting)
        #expect(waitingTop["chosen_rep_id"] is NSNull)
        #expect(waitingTop["rule"] is NSNull)
        #expect(waitingTop["waiting_reason"] as? String
            == "no active account manager with capacity and skills [sea] (of 2 account managers: 1 at capacity, 2 missing skills)")
    }

    @Test func roundTrip() throws {
        let (chosen, waiting) = Self.decisions()
        for decision in [chosen, waiting] {
            let data = try JSONEncoder().encode(decision)
            #expect(try JSONDecoder().decode(RoutingDecision.self, from: data) == decision)
        }
    }

    @Test func outputDoesNotDependOnTheEncodersDateStrategy() throws {
        let (chosen, _) = Self.decisions()
        let plain = JSONEncoder()
        plain.outputFormatting = .sortedKeys
        let other = JSONEncoder()
        other.outputFormatting = .sortedKeys
        other.dateEncodingStrategy = .secondsSince1970
        #expect(try plain.encode(chosen) == other.encode(chosen))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        #expect(try decoder.decode(RoutingDecision.self, from: plain.encode(chosen)) == chosen)
    }

    @Test func datesKeepMilliseconds() throws {
        var team = [manager(1, lastAssignedAt: Date(timeIntervalSince1970: 1_700_000_000.25))]
        let decision = RoutingPolicy().route(RoutingRequest(accountId: 1), candidates: &team, now: Date(timeIntervalSince1970: 1_700_000_001.5))
        let top = try object(decision)
        #expect(top["decided_at"] as? String == "2023-11-14T22:13:21.500Z")
        let decoded = try JSONDecoder().decode(RoutingDecision.self, from: JSONEncoder().encode(decision))
        #expect(decoded == decision)
    }

    @Test func decodesDatesWithoutFractionsAndWithOffsets() throws {
        let json = """
        {"account_id":7,"chosen_rep_id":null,"rule":null,"fallback_used":false,"candidates":[],
         "waiting_reason":"no account manager in the team","decided_at":"2023-11-15T00:13:20+02:00"}
        """
        let decision = try JSONDecoder().decode(RoutingDecision.self, from: Data(json.utf8))
        #expect(decision.decidedAt == t0)
        #expect(decision.chosenRepId == nil && decision.candidates.isEmpty)
    }

    @Test(arguments: [
        #""decided_at":"yesterday""#,
        #""decided_at":null"#,
        #""decided_at":1700000000"#,
    ])
    func rejectsBadDates(_ field: String) {
        let json = #"{"account_id":7,"fallback_used":false,"candidates":[],"# + field + "}"
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RoutingDecision.self, from: Data(json.utf8)) }
    }

    @Test func rejectsUnknownEnumValues() {
        let json = #"{"account_id":7,"fallback_used":false,"rule":"coin_flip","candidates":[],"decided_at":"2023-11-14T22:13:20Z"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RoutingDecision.self, from: Data(json.utf8)) }
    }
}
