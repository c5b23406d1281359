import ConveyorPostgres
import Foundation
import Histogram
import Synchronization

/// Drives a latency scenario: sends at a steady rate for a duration on the
/// calling thread while a thread of its own waits on the listening
/// connection and notes when each completion notification arrives, so a
/// send that runs late never delays the reading of a notification. Keeps a
/// histogram of send-commit to notification-arrival times per key.
struct SteadyRate<Key: Hashable & Sendable> {
    let rate: Double
    let seconds: Double
    let listener: PostgresConnection

    /// `send(n)` commits the n-th item and returns its key; `completed`
    /// turns notifications into the keys they complete, on the listener's
    /// thread and with the listening connection for any query it needs.
    /// Returns p50, p99 and max in milliseconds, and how many were sent.
    func run(
        send: (Int) throws -> Key,
        completed: @escaping @Sendable (PostgresConnection, [PostgresNotification]) throws -> [Key]
    ) throws -> (p50: Double, p99: Double, max: Double, count: Int) {
        let total = Int(rate * seconds)
        let reader = NotificationReader<Key>(listener: listener, completed: completed)
        let start = DispatchTime.now().uptimeNanoseconds
        var committedAt: [Key: UInt64] = [:]
        for n in 0..<total {
            let due = start + UInt64(Double(n) / rate * 1e9)
            let now = DispatchTime.now().uptimeNanoseconds
            if now < due { Thread.sleep(forTimeInterval: Double(due - now) / 1e9) }
            let key = try send(n)
            committedAt[key] = DispatchTime.now().uptimeNanoseconds
        }
        let arrivedAt = try reader.finish(expecting: Set(committedAt.keys), deadline: Date().addingTimeInterval(30))
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for (key, committed) in committedAt {
            guard let arrived = arrivedAt[key] else { continue }
            // A notification can arrive before send() has returned.
            _ = histogram.record((arrived - min(arrived, committed)) / 1000)
        }
        let received = committedAt.keys.count { arrivedAt[$0] != nil }
        guard received == total else { throw BenchError("only \(received) of \(total) completed in time") }
        func milliseconds(_ microseconds: UInt64) -> Double { Double(microseconds) / 1000 }
        return (milliseconds(histogram.valueAtPercentile(50)), milliseconds(histogram.valueAtPercentile(99)),
                milliseconds(histogram.maxRecorded), total)
    }
}

/// The listening connection on a thread of its own: notes each completed
/// key's arrival time until told to finish.
private final class NotificationReader<Key: Hashable & Sendable>: @unchecked Sendable {
    private let listener: PostgresConnection
    private let completed: @Sendable (PostgresConnection, [PostgresNotification]) throws -> [Key]
    private let arrivedAt = Mutex<[Key: UInt64]>([:])
    private let failure = Mutex<Error?>(nil)
    private let stop = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)

    init(listener: PostgresConnection, completed: @escaping @Sendable (PostgresConnection, [PostgresNotification]) throws -> [Key]) {
        self.listener = listener
        self.completed = completed
        let thread = Thread { [self] in read() }
        thread.name = "bench-listener"
        thread.start()
    }

    private func read() {
        defer { stopped.signal() }
        do {
            while !stop.load(ordering: .relaxed) {
                let notifications = try listener.waitForNotifications(timeout: 0.05)
                let arrived = DispatchTime.now().uptimeNanoseconds
                let keys = try completed(listener, notifications)
                arrivedAt.withLock { arrivals in for key in keys where arrivals[key] == nil { arrivals[key] = arrived } }
            }
        } catch {
            failure.withLock { $0 = error }
        }
    }

    /// Waits until every key of `expected` has arrived (or the deadline),
    /// stops the thread and returns the arrival times.
    func finish(expecting expected: Set<Key>, deadline: Date) throws -> [Key: UInt64] {
        while Date() < deadline, failure.withLock({ $0 }) == nil,
              !arrivedAt.withLock({ arrivals in arrivals.count >= expected.count && expected.allSatisfy { arrivals[$0] != nil } }) {
            Thread.sleep(forTimeInterval: 0.01)
        }
        stop.store(true, ordering: .relaxed)
        stopped.wait()
        if let error = failure.withLock({ $0 }) { throw error }
        return arrivedAt.withLock { $0 }
    }
}
