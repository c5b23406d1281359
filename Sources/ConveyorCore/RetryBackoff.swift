import Foundation

/// Exponential backoff with jitter for retrying failed jobs.
///
/// The delay after attempt *n* is `base · 2^(n−1)`, capped at `cap`, then spread by ±`jitter`
/// and capped again: it always lies in `0...cap`, so `cap` is a true maximum. The randomness is
/// injected, which keeps the function pure and testable.
public struct RetryBackoff: Sendable, Equatable {
    /// Delay after the first attempt, in seconds.
    public var base: TimeInterval
    /// Largest delay, in seconds.
    public var cap: TimeInterval
    /// Fraction of the delay added or removed at random, in `0...1`.
    public var jitter: Double

    /// Out-of-range values are clamped: negative or non-finite durations to 0 (cap: to `base`),
    /// jitter to `0...1`.
    public init(base: TimeInterval = 1, cap: TimeInterval = 3600, jitter: Double = 0.25) {
        self.base = base.isFinite ? max(0, base) : 0
        self.cap = cap.isFinite ? max(self.base, cap) : self.base
        self.jitter = jitter.isFinite ? min(max(jitter, 0), 1) : 0
    }

    /// The delay before the next try after `attempt` failed attempts (attempts count from 1;
    /// smaller values are read as 1). `random` is a uniform sample in `0..<1` (clamped; 0.5
    /// means no jitter).
    public func delay(afterAttempt attempt: Int, random: Double) -> TimeInterval {
        // 2^1023 is the largest finite power of two: base · 2^1023 may overflow to +inf (which
        // the cap absorbs) but is never NaN, even for base 0.
        let exponent = Double(min(max(attempt, 1) - 1, 1023))
        let raw = min(cap, base * exp2(exponent))
        let r = random.isFinite ? min(max(random, 0), 1) : 0.5
        let jittered = raw * (1 + jitter * (2 * r - 1))
        return min(cap, max(0, jittered))
    }
}
