import ConveyorCore
import Foundation

/// The stored explanation of a handoff (`handoffs.explanation`): a summary
/// of constant size, whatever the size of the team, and the inputs of the
/// decision. With the snapshot of the team's candidates that the handoff's
/// batch started from (`handoffs.snapshot_id`), `conveyor.handoff_explanation`
/// rebuilds the full table of every candidate considered, the one reader of
/// this layout (see docs/sql.md):
///
///     {"layout": "summary", "kind": "auto", "account_id": 7, "chosen_rep_id": 3,
///      "rule": "lowest_utilization", "fallback_used": false, "decided_at": "2026-11-29T06:40:00.000Z",
///      "chosen": {"rep_id": 3, "owned": 4, "capacity": 30, "utilization": 0.133, "last_assigned_at": "…"},
///      "runner_up": {"rep_id": 5, "owned": 6, "capacity": 30, "utilization": 0.2, "last_assigned_at": null,
///                    "lost_on": "lowest_utilization"},
///      "considered": 12, "eligible": 9,
///      "excluded": {"inactive": 0, "away": 1, "hunter": 0, "departing": 0, "at_capacity": 2, "skills": 0},
///      "inputs": {"hunter_id": 9, "needs": ["customs"], "excluded_rep_ids": [], "only_rep_id": null,
///                 "skills_fallback": false}}
///
/// It is on the hot path (one per handoff), so it is written as bytes.
enum Explanation {
    /// What a decision was asked: what the full table is rebuilt with.
    struct Inputs {
        let hunterId: Int64?
        let needs: [String]
        let excludedRepIds: Set<Int64>
        let onlyRepId: Int64?
        let skillsFallback: Bool
    }

    /// Explanations as JSON text, one per line (JSON never holds a raw newline).
    struct Lines {
        private var bytes: [UInt8] = []
        private var dates: [Date: String] = [:]

        /// Room for `decisions` explanations.
        init(decisions: Int) {
            bytes.reserveCapacity(decisions * 640)
        }

        var text: String { String(decoding: bytes, as: UTF8.self) }

        /// The explanation of a decision that chose a rep, the `position`th
        /// handoff on its candidate snapshot (0 for the first).
        mutating func append(kind: HandoffKind, decision: RoutingDecision, inputs: Inputs, position: Int) {
            if !bytes.isEmpty { bytes.append(UInt8(ascii: "\n")) }
            write("{\"layout\":\"summary\",\"kind\":\"\(kind.rawValue)\",\"account_id\":")
            write(decision.accountId)
            write(",\"chosen_rep_id\":")
            writeOptional(decision.chosenRepId)
            write(",\"rule\":")
            write(decision.rule.map { "\"\($0.rawValue)\"" } ?? "null")
            write(decision.fallbackUsed ? ",\"fallback_used\":true" : ",\"fallback_used\":false")
            write(",\"decided_at\":\"" + formatted(decision.decidedAt) + "\",\"chosen\":")
            writeCandidate(decision.chosen, lostOn: nil)
            write(",\"runner_up\":")
            writeCandidate(decision.runnerUp, lostOn: decision.rule)
            write(",\"run_position\":")
            write(Int64(position))
            write(",\"considered\":")
            write(Int64(decision.considered))
            write(",\"eligible\":")
            write(Int64(decision.eligible))
            write(",\"excluded\":{")
            // Candidates are account managers: `not_account_manager` never applies.
            for (index, reason) in Exclusion.allCases.enumerated() where reason != .notAccountManager {
                write(index > 1 ? ",\"" : "\"")
                write(reason.rawValue + "\":")
                write(Int64(decision.excludedCounts[reason]))
            }
            write("},\"inputs\":{\"hunter_id\":")
            writeOptional(inputs.hunterId)
            write(",\"needs\":[")
            for (index, need) in inputs.needs.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                var literal = ""
                Quoting.appendJSONString(CandidateSnapshot.canonical(need), to: &literal)
                write(literal)
            }
            write("],\"excluded_rep_ids\":[")
            for (index, id) in inputs.excludedRepIds.sorted().enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(id)
            }
            write("],\"only_rep_id\":")
            writeOptional(inputs.onlyRepId)
            write(inputs.skillsFallback ? ",\"skills_fallback\":true}}" : ",\"skills_fallback\":false}}")
        }

        /// One candidate's figures before the decision, or null.
        private mutating func writeCandidate(_ candidate: CandidateEvaluation?, lostOn rule: ChoiceRule?) {
            guard let candidate else {
                write("null")
                return
            }
            write("{\"rep_id\":")
            write(candidate.repId)
            write(",\"owned\":")
            write(Int64(candidate.owned))
            write(",\"capacity\":")
            write(Int64(candidate.capacity))
            write(",\"utilization\":")
            if candidate.capacity > 0 {
                // Thousandths rounded half up in integers, as conveyor.candidate_json does.
                let thousandths = (2000 * Int64(candidate.owned) + Int64(candidate.capacity)) / (2 * Int64(candidate.capacity))
                write(thousandths / 1000)
                write(thousandths % 1000 < 10 ? ".00" : thousandths % 1000 < 100 ? ".0" : ".")
                write(thousandths % 1000)
            } else {
                write("null")
            }
            write(",\"last_assigned_at\":")
            write(candidate.lastAssignedAt.map { "\"" + formatted($0) + "\"" } ?? "null")
            if let rule { write(",\"lost_on\":\"\(rule.rawValue)\"") }
            bytes.append(UInt8(ascii: "}"))
        }

        /// A batch shares its decision time and repeats last assignments: format each once.
        private mutating func formatted(_ date: Date) -> String {
            if let text = dates[date] { return text }
            let text = ISO8601.string(date)
            dates[date] = text
            return text
        }

        private mutating func write(_ text: String) {
            bytes.append(contentsOf: text.utf8)
        }

        private mutating func writeOptional(_ value: Int64?) {
            if let value { write(value) } else { write("null") }
        }

        /// Decimal digits, without going through String.
        private mutating func write(_ value: Int64) {
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            var rest = value.magnitude
            var unit: UInt64 = 1
            while unit <= rest / 10 { unit *= 10 }
            repeat {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / unit))
                rest %= unit
                unit /= 10
            } while unit > 0
        }
    }
}
