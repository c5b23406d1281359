import SeededRandom

/// The fixtures' draws from one seeded SplitMix64: the same seed, the same draws.
struct Random {
    private var generator: SplitMix64

    init(seed: UInt64, stream: UInt64) {
        generator = SplitMix64(state: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
    }

    /// A whole number in 0..<bound.
    mutating func below(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &generator) }

    /// A number in range.
    mutating func uniform(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &generator) }

    mutating func element<T>(_ items: [T]) -> T { items[below(items.count)] }

    mutating func shuffle<T>(_ items: inout [T]) { items.shuffle(using: &generator) }
}
