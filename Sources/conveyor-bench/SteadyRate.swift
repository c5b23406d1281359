import ConveyorPostgres
import Foundation
import Histogram

/// Drives a latency scenario: sends at a steady rate for a duration while
/// waiting on a listening connection between sends, and keeps a histogram of
/// send-commit to completion-notification times per key.
struct SteadyRate<Key: Hashable> {
    let rate: Double
    let seconds: Double
    let listener: PostgresConnection

    /// `send(n)` commits the n-th item and returns its key; `completed`
    /// turns notifications into the keys they complete. Returns p50, p99 and
    /// max in milliseconds, and how many were sent.
    func run(
        send: (Int) throws -> Key,
        completed: ([PostgresNotification]) throws -> [Key]
    ) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
        var committedAt: [Key: UInt64] = [:]
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        let total = Int(rate * seconds)
        let start = DispatchTime.now().uptimeNanoseconds
        var sent = 0
        var received = 0
        let deadline = Date().addingTimeInterval(seconds + 30)
        while received < total && Date() < deadline {
            let now = DispatchTime.now().uptimeNanoseconds
            let due = start + UInt64(Double(sent) / rate * 1e9)
            if sent < total && now >= due {
                let key = try send(sent)
                committedAt[key] = DispatchTime.now().uptimeNanoseconds
                sent += 1
                continue
            }
            let wait = sent < total ? Double(due - min(due, now)) / 1e9 : 0.5
            let notifications = try listener.waitForNotifications(timeout: wait)
            let arrived = DispatchTime.now().uptimeNanoseconds
            for key in try completed(notifications) {
                guard let committed = committedAt.removeValue(forKey: key) else { continue }
                _ = histogram.record((arrived - committed) / 1000)
                received += 1
            }
        }
        guard received == total else { throw BenchError("only \(received) of \(total) completed in time") }
        func milliseconds(_ microseconds: UInt64) -> Double { Double(microseconds) / 1000 }
        return (milliseconds(histogram.valueAtPercentile(50)), milliseconds(histogram.valueAtPercentile(99)),
                milliseconds(histogram.maxRecorded), total)
    }
}
