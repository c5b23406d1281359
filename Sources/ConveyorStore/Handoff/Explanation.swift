import ConveyorCore
import Foundation

/// The stored explanation of a handoff (`handoffs.explanation`): every
/// account manager considered, their load (`owned`, with utilization =
/// owned / capacity) when the decision was made, how long before it each was
/// last assigned (milliseconds; `-`: never), why each was excluded, the rule
/// that chose and whether the skills fallback was used:
///
///     {"kind": "auto", "account_id": 7, "chosen_rep_id": 3, "rule": "lowest_utilization",
///      "fallback_used": false, "decided_at": "2026-11-29T06:40:00.000Z",
///      "candidate_fields": ["rep_id", "owned", "capacity", "last_assigned_ms_ago", "excluded_because"],
///      "candidates": ["3 4 30 5200 -", "5 30 30 - at_capacity", "9 2 30 86400000 hunter,away"]}
///
/// It is on the hot path (one per handoff, one entry per account manager of
/// the team), so each candidate is one string of the `candidate_fields`,
/// separated by spaces, `-` for none: PostgreSQL reads a string into jsonb
/// about seven times faster than the same figures as JSON numbers.
/// The first release stored each candidate as a JSON array of fields, with
/// `last_assigned_ms` in Unix milliseconds; `decode` reads both.
public enum Explanation {
    /// The names of the fields of each candidate string, in order.
    static let candidateFields = ["rep_id", "owned", "capacity", "last_assigned_ms_ago", "excluded_because"]

    /// Explanations as JSON text, one per line (JSON never holds a raw newline).
    struct Lines {
        private var bytes: [UInt8] = []
        private var decidedAt: (date: Date, text: String)?

        /// Room for `decisions` explanations of `candidates` candidates each.
        init(decisions: Int, candidates: Int) {
            bytes.reserveCapacity(decisions * (300 + candidates * 24))
        }

        mutating func append(kind: HandoffKind, decision: RoutingDecision) {
            if !bytes.isEmpty { bytes.append(UInt8(ascii: "\n")) }
            write("{\"kind\":\"\(kind.rawValue)\",\"account_id\":")
            write(decision.accountId)
            write(",\"chosen_rep_id\":")
            if let chosen = decision.chosenRepId { write(chosen) } else { write("null") }
            write(",\"rule\":")
            write(decision.rule.map { "\"\($0.rawValue)\"" } ?? "null")
            write(decision.fallbackUsed ? ",\"fallback_used\":true" : ",\"fallback_used\":false")
            write(",\"decided_at\":\"" + formatted(decision.decidedAt) + "\",\"candidate_fields\":")
            write(Self.fieldsJSON)
            write(",\"candidates\":[")
            for index in decision.candidates.indices {
                write(index > 0 ? ",\"" : "\"")
                writeFigures(of: decision.candidates[index], decidedAt: decision.decidedAt)
                let reasons = decision.candidates[index].excludedBecause
                if reasons.isEmpty { bytes.append(UInt8(ascii: "-")) }
                for position in reasons.indices {
                    if position > 0 { bytes.append(UInt8(ascii: ",")) }
                    write(reasons[position].rawValue)
                }
                bytes.append(UInt8(ascii: "\""))
            }
            write("]}")
        }

        var text: String { String(decoding: bytes, as: UTF8.self) }

        /// "rep_id owned capacity last_assigned_ms_ago " of one candidate. A
        /// batch repeats them in every decision (made at one time) and
        /// changes one candidate per decision, so each is rendered once per change.
        private mutating func writeFigures(of candidate: borrowing CandidateEvaluation, decidedAt: Date) {
            if let cached = figures[candidate.repId], cached.owned == candidate.owned, cached.decidedAt == decidedAt,
               cached.lastAssignedAt == candidate.lastAssignedAt, cached.capacity == candidate.capacity {
                bytes.append(contentsOf: cached.text)
                return
            }
            let start = bytes.count
            write(candidate.repId)
            bytes.append(UInt8(ascii: " "))
            write(Int64(candidate.owned))
            bytes.append(UInt8(ascii: " "))
            write(Int64(candidate.capacity))
            bytes.append(UInt8(ascii: " "))
            if let last = candidate.lastAssignedAt {
                write(Int64((decidedAt.timeIntervalSince(last) * 1000).rounded()))
            } else {
                bytes.append(UInt8(ascii: "-"))
            }
            bytes.append(UInt8(ascii: " "))
            figures[candidate.repId] = (candidate.owned, candidate.capacity, candidate.lastAssignedAt, decidedAt, Array(bytes[start...]))
        }

        private var figures: [Int64: (owned: Int, capacity: Int, lastAssignedAt: Date?, decidedAt: Date, text: [UInt8])] = [:]

        private static let fieldsJSON = "[" + candidateFields.map { "\"\($0)\"" }.joined(separator: ",") + "]"

        private mutating func write(_ text: String) {
            bytes.append(contentsOf: text.utf8)
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

        /// A batch shares one decision time: format it once.
        private mutating func formatted(_ date: Date) -> String {
            if let decidedAt, decidedAt.date == date { return decidedAt.text }
            let text = ISO8601.string(date)
            decidedAt = (date, text)
            return text
        }
    }
}

extension Explanation {
    /// One candidate of a stored explanation.
    public struct Candidate: Sendable, Equatable {
        public let repId: Int64
        public let owned: Int
        public let capacity: Int
        public let lastAssignedAt: Date?
        public let excludedBecause: [String]

        /// owned / capacity; nil when capacity is 0.
        public var utilization: Double? { capacity > 0 ? Double(owned) / Double(capacity) : nil }
    }

    /// A stored explanation, read back (either layout).
    public struct Stored: Sendable, Equatable {
        public let kind: String?
        public let chosenRepId: Int64?
        public let rule: String?
        public let fallbackUsed: Bool?
        public let decidedAt: Date?
        public let candidates: [Candidate]
    }

    /// Reads a stored explanation; throws on text that is not one.
    public static func decode(_ json: String) throws -> Stored {
        let raw = try JSONDecoder().decode(Raw.self, from: Data(json.utf8))
        let decidedAt = raw.decided_at.flatMap(ISO8601.parse)
        let fields = raw.candidate_fields ?? []
        let candidates = try (raw.candidates ?? []).map { row -> Candidate in
            var values: [String: Value] = [:]
            switch row {
            case .text(let text):
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == fields.count else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "candidate \(text) does not match \(fields)")) }
                for (field, part) in zip(fields, parts) {
                    values[field] = part == "-" ? .null : field == "excluded_because"
                        ? .strings(part.split(separator: ",").map(String.init)) : Int64(part).map(Value.number) ?? .null
                }
            case .values(let list):
                values = Dictionary(zip(fields, list), uniquingKeysWith: { first, _ in first })
            }
            let lastAssignedAt: Date? = switch (values["last_assigned_ms_ago"], values["last_assigned_ms"]) {
            case (.number(let ago)?, _): decidedAt.map { $0.addingTimeInterval(-Double(ago) / 1000) }
            case (_, .number(let unix)?): Date(timeIntervalSince1970: Double(unix) / 1000)
            default: nil
            }
            return Candidate(
                repId: values["rep_id"]?.number ?? 0, owned: Int(values["owned"]?.number ?? 0),
                capacity: Int(values["capacity"]?.number ?? 0), lastAssignedAt: lastAssignedAt,
                excludedBecause: values["excluded_because"]?.strings ?? []
            )
        }
        return Stored(
            kind: raw.kind, chosenRepId: raw.chosen_rep_id, rule: raw.rule, fallbackUsed: raw.fallback_used,
            decidedAt: decidedAt, candidates: candidates
        )
    }

    private struct Raw: Decodable {
        let kind: String?
        let chosen_rep_id: Int64?
        let rule: String?
        let fallback_used: Bool?
        let decided_at: String?
        let candidate_fields: [String]?
        let candidates: [Row]?
    }

    /// A candidate: one string of fields (now), or an array of them (the first release).
    private enum Row: Decodable {
        case text(String)
        case values([Value])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { self = .text(text) } else { self = .values(try container.decode([Value].self)) }
        }
    }

    private enum Value: Decodable {
        case number(Int64), strings([String]), null

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let number = try? container.decode(Int64.self) { self = .number(number) }
            else { self = .strings(try container.decode([String].self)) }
        }

        var number: Int64? { if case .number(let value) = self { value } else { nil } }
        var strings: [String]? { if case .strings(let value) = self { value } else { nil } }
    }
}
