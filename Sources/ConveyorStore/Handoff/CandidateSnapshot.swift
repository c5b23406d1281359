import ConveyorCore
import Foundation

/// A team's account managers as routing saw them, stored once per run of
/// handoffs (`conveyor.candidate_snapshots`), and the fingerprint that tells
/// whether the team is still as the last batch left it.
///
/// Times are whole microseconds since the Unix epoch, as PostgreSQL keeps
/// them, so a snapshot is exact for every time routing meets (a `Double` of
/// seconds holds microseconds exactly until about the year 2100; later
/// `away_until`s may move by a microsecond, which decides nothing); the
/// candidate arrays are
/// `[rep_id, active, away_until_us, capacity, owned, last_assigned_us, skills]`,
/// skills as the text of a PostgreSQL text[].
enum CandidateSnapshot {
    static func date(micros: Int64) -> Date {
        Date(timeIntervalSince1970: Double(micros) / 1_000_000)
    }

    static func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// The candidates as a snapshot's JSON.
    static func json(_ candidates: [Candidate]) -> String {
        var text = "["
        for (index, candidate) in candidates.enumerated() {
            if index > 0 { text += "," }
            text += "[\(candidate.id),\(candidate.active),\(candidate.awayUntil.map { String(micros($0)) } ?? "null"),"
            text += "\(candidate.capacity),\(candidate.owned),\(candidate.lastAssignedAt.map { String(micros($0)) } ?? "null"),"
            Quoting.appendJSONString(arrayLiteral(candidate.skills.map(canonical).sorted()), to: &text)
            text += "]"
        }
        return text + "]"
    }

    /// A skill or need as PostgreSQL must compare it to agree with the policy:
    /// Swift's strings are equal when canonically equivalent, PostgreSQL's
    /// when their bytes are, so both sides store the composed form (NFC).
    static func canonical(_ text: String) -> String {
        text.precomposedStringWithCanonicalMapping
    }

    /// PostgreSQL's text form of a text[]: every element double-quoted, with
    /// its quotes and backslashes escaped.
    static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { value in
            "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
    }

    /// FNV-1a 64 over every figure a snapshot holds, as a signed 64-bit
    /// value (PostgreSQL's bigint): equal candidates, equal fingerprints.
    static func fingerprint(_ candidates: [Candidate]) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ value: Int64) {
            var bits = UInt64(bitPattern: value)
            for _ in 0..<8 {
                hash ^= bits & 0xff
                hash &*= 0x100_0000_01b3
                bits >>= 8
            }
        }
        for candidate in candidates {
            mix(candidate.id)
            mix(candidate.active ? 1 : 0)
            mix(candidate.awayUntil.map(micros) ?? Int64.min)
            mix(Int64(candidate.capacity))
            mix(Int64(candidate.owned))
            mix(candidate.lastAssignedAt.map(micros) ?? Int64.min)
            for skill in candidate.skills.sorted() {
                for byte in skill.utf8 {
                    hash ^= UInt64(byte)
                    hash &*= 0x100_0000_01b3
                }
                mix(-1)
            }
            mix(-2)
        }
        return Int64(bitPattern: hash)
    }
}
