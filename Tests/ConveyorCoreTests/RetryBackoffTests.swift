import ConveyorCore
import Foundation
import SeededRandom
import Testing

@Suite struct RetryBackoffTests {
    @Test func defaults() {
        let b = RetryBackoff()
        #expect(b.base == 1 && b.cap == 3600 && b.jitter == 0.25)
    }

    @Test func doublesWithoutJitterUntilTheCap() {
        let b = RetryBackoff()
        #expect((1...14).map { b.delay(afterAttempt: $0, random: 0.5) }
            == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600])
    }

    @Test func jitterSpreadsBothWays() {
        let b = RetryBackoff(base: 8, cap: 1000, jitter: 0.25)
        #expect(b.delay(afterAttempt: 1, random: 0) == 6)
        #expect(b.delay(afterAttempt: 1, random: 0.75) == 9)
        #expect(b.delay(afterAttempt: 2, random: 0.25) == 14)
        // At the cap, jitter only shortens: the cap is a true maximum.
        #expect(b.delay(afterAttempt: 20, random: 0) == 750)
        #expect(b.delay(afterAttempt: 20, random: 0.999) == 1000)
    }

    @Test func boundsOverManyAttemptsAndSamples() {
        var rng = SplitMix64(state: 7)
        let b = RetryBackoff()
        for _ in 0..<10_000 {
            let attempt = Int.random(in: -5...80, using: &rng)
            let random = Double.random(in: 0..<1, using: &rng)
            let raw = min(3600, pow(2, Double(max(attempt, 1) - 1)))
            let d = b.delay(afterAttempt: attempt, random: random)
            #expect(d >= raw * 0.75 && d <= min(3600, raw * 1.25), "attempt \(attempt) random \(random): \(d)")
        }
    }

    @Test func nonDecreasingInAttemptForAFixedSample() {
        for random in [0, 0.1, 0.5, 0.9, 0.999_999] {
            let delays = (1...100).map { RetryBackoff().delay(afterAttempt: $0, random: random) }
            #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 <= $1 }, "random \(random)")
            #expect(delays.last! <= 3600 && delays.last! >= 2700)
        }
    }

    @Test func hugeAttemptsNeitherOverflowNorExceedTheCap() {
        for attempt in [64, 1023, 1024, 1025, 100_000, Int.max] {
            for random in [0, 0.5, 0.999] {
                let d = RetryBackoff().delay(afterAttempt: attempt, random: random)
                #expect(d.isFinite && d >= 2700 && d <= 3600)
            }
        }
        // A base that overflows to infinity before the cap still yields the cap.
        #expect(RetryBackoff(base: 1e300, cap: 1e301).delay(afterAttempt: 2000, random: 0.5) == 1e301)
    }

    @Test func smallOrOddInputs() {
        let b = RetryBackoff()
        #expect(b.delay(afterAttempt: 0, random: 0.5) == 1)
        #expect(b.delay(afterAttempt: Int.min, random: 0.5) == 1)
        #expect(b.delay(afterAttempt: 3, random: -4) == 3)
        #expect(b.delay(afterAttempt: 3, random: 9) == 5)
        #expect(b.delay(afterAttempt: 3, random: .nan) == 4)
        #expect(b.delay(afterAttempt: 3, random: .infinity) == 4)
    }

    @Test func zeroBaseIsAlwaysZero() {
        let b = RetryBackoff(base: 0)
        #expect([1, 50, 1023, 1024, Int.max].allSatisfy { b.delay(afterAttempt: $0, random: 0.9) == 0 })
    }

    @Test func initClampsNonsense() {
        let b = RetryBackoff(base: -5, cap: .nan, jitter: 7)
        #expect(b.base == 0 && b.cap == 0 && b.jitter == 1)
        let c = RetryBackoff(base: 10, cap: 2, jitter: -1)
        #expect(c.cap == 10 && c.jitter == 0)
        #expect(c.delay(afterAttempt: 5, random: 0) == 10)
        let d = RetryBackoff(base: .infinity, cap: .infinity, jitter: .nan)
        #expect(d.base == 0 && d.cap == 0 && d.jitter == 0)
        // Full jitter never goes negative.
        #expect(RetryBackoff(jitter: 1).delay(afterAttempt: 4, random: 0) == 0)
    }
}
