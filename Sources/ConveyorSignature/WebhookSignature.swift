import Crypto
import Foundation

/// The `Conveyor-Signature` header of a webhook delivery: how the daemon signs
/// a body and how a receiver checks it (see `docs/webhooks.md`).
///
/// `t=<unix seconds>,v1=<hex>`, where `<hex>` is the lowercase hexadecimal
/// HMAC-SHA256, keyed by the team's webhook secret (its UTF-8 bytes), of the
/// bytes `<t>.<body>`. A receiver accepts a delivery when one `v1` matches
/// (compared in constant time) and `t` lies within its tolerance of its own
/// clock, so a recorded delivery cannot be replayed later.
///
/// Its own target, not ConveyorCore (which links nothing but Foundation) nor
/// the daemon (which integrators do not link): it needs swift-crypto, the
/// daemon signs with it, and receivers, the tests' and integrators', verify
/// with it while depending on nothing else of conveyor.
public enum WebhookSignature {
    /// The header's name.
    public static let headerName = "Conveyor-Signature"
    /// The replay window a receiver allows by default: 5 minutes either side of its clock.
    public static let defaultTolerance: Int64 = 300

    /// The header's value for `body` signed with `secret` at `timestamp` (unix seconds).
    public static func header(body: some Collection<UInt8>, secret: String, timestamp: Int64) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: signedBytes(body, timestamp), using: key(secret))
        return "t=\(timestamp),v1=" + code.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Why a delivery's signature was not accepted.
    public enum Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        /// No `t=` with unix seconds, or no `v1=` with 64 hex digits.
        case malformed
        /// `t` is further than the tolerance from `now`, in seconds (positive: in the past).
        case outsideTolerance(age: Int64)
        /// No `v1` is the HMAC of this body with this secret at `t`.
        case mismatch

        public var description: String {
            switch self {
            case .malformed: "the \(WebhookSignature.headerName) header is not t=<unix seconds>,v1=<64 hex digits>"
            case .outsideTolerance(let age): "the signature's timestamp is \(age) s from now, outside the tolerance"
            case .mismatch: "no v1 signature matches the body and the secret"
            }
        }
    }

    /// Checks `header` (the `Conveyor-Signature` value) for `body` and `secret`: returns
    /// its timestamp, or throws why it is refused. Several `v1=` entries may be present
    /// (any one matching is enough); unknown entries are ignored.
    @discardableResult
    public static func verify(
        header: String, body: some Collection<UInt8>, secret: String,
        now: Int64 = Int64(Date().timeIntervalSince1970), tolerance: Int64 = defaultTolerance
    ) throws(Rejection) -> Int64 {
        var timestamp: Int64?
        var candidates: [[UInt8]] = []
        for entry in header.split(separator: ",") {
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "t" where parts[1].utf8.allSatisfy { (0x30...0x39).contains($0) }: timestamp = Int64(parts[1])
            case "v1": if let code = bytes(hex: parts[1]) { candidates.append(code) }
            default: continue
            }
        }
        guard let timestamp, !candidates.isEmpty else { throw .malformed }
        let age = now - timestamp
        guard age.magnitude <= tolerance.magnitude else { throw .outsideTolerance(age: age) }
        let message = signedBytes(body, timestamp)
        let key = key(secret)
        guard candidates.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: message, using: key) }) else {
            throw .mismatch
        }
        return timestamp
    }

    /// `<timestamp>.<body>`: the bytes the HMAC covers.
    private static func signedBytes(_ body: some Collection<UInt8>, _ timestamp: Int64) -> [UInt8] {
        Array("\(timestamp).".utf8) + body
    }

    private static func key(_ secret: String) -> SymmetricKey {
        SymmetricKey(data: Array(secret.utf8))
    }

    /// The 32 bytes that 64 hex digits spell, or nil.
    private static func bytes(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * SHA256.byteCount else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(SHA256.byteCount)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            result.append(high << 4 | low)
        }
        return result
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x61...0x66: digit - 0x61 + 10
        case 0x41...0x46: digit - 0x41 + 10
        default: nil
        }
    }
}
