import Synchronization
import Testing

@testable import ConveyorDaemon

/// `SharedRead`: callers asking together share reads, one read runs at a
/// time, and no caller gets a value read before it asked.
@Suite struct SharedReadTests {
    /// A source whose "writes" are a counter: a read returns the counter as it
    /// was when the read began, and notes how many reads overlap.
    final class Source: Sendable {
        let writes = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        let inRead = Atomic<Int>(0)
        let mostAtOnce = Atomic<Int>(0)

        func read() async throws -> Int {
            let seen = writes.load(ordering: .sequentiallyConsistent)
            reads.add(1, ordering: .relaxed)
            let now = inRead.add(1, ordering: .sequentiallyConsistent).newValue
            mostAtOnce.max(now, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(20))
            inRead.subtract(1, ordering: .sequentiallyConsistent)
            return seen
        }
    }

    @Test func concurrentCallersShareFewReadsAndNeverGetAnOlderValue() async throws {
        let source = Source()
        let shared = SharedRead { try await source.read() }
        let callers = 200
        let stale = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    // A write, then a read: the read must see at least this write.
                    let mine = source.writes.add(1, ordering: .sequentiallyConsistent).newValue
                    return try await shared.value() < mine
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(stale == 0)
        #expect(source.mostAtOnce.load(ordering: .relaxed) == 1)
        #expect(source.reads.load(ordering: .relaxed) < callers / 4, "reads: \(source.reads.load(ordering: .relaxed))")
    }

    @Test func callersOneAfterAnotherEachGetAFreshRead() async throws {
        let source = Source()
        let shared = SharedRead { try await source.read() }
        for expected in 1...3 {
            source.writes.add(1, ordering: .sequentiallyConsistent)
            #expect(try await shared.value() == expected)
        }
        #expect(source.reads.load(ordering: .relaxed) == 3)
    }

    /// Within `maxAge` callers share the latest read, running or done; after it, they read again.
    @Test func callersWithinMaxAgeShareTheLatestRead() async throws {
        let source = Source()
        let shared = SharedRead(maxAge: .seconds(60)) { try await source.read() }
        source.writes.add(1, ordering: .sequentiallyConsistent)
        #expect(try await shared.value() == 1)
        source.writes.add(1, ordering: .sequentiallyConsistent)
        #expect(try await shared.value() == 1, "shared: begun within maxAge")
        #expect(source.reads.load(ordering: .relaxed) == 1)

        let brief = SharedRead(maxAge: .milliseconds(30)) { try await source.read() }
        #expect(try await brief.value() == 2)
        try await Task.sleep(for: .milliseconds(40))
        source.writes.add(1, ordering: .sequentiallyConsistent)
        #expect(try await brief.value() == 3, "read again: the latest began over maxAge ago")
    }

    @Test func aFailedReadFailsItsCallersAndTheNextReadRunsAgain() async throws {
        struct Down: Error {}
        let failing = Atomic<Bool>(true)
        let shared = SharedRead(maxAge: .seconds(60)) { () async throws -> Int in
            if failing.load(ordering: .relaxed) { throw Down() }
            return 7
        }
        await #expect(throws: Down.self) { try await shared.value() }
        failing.store(false, ordering: .relaxed)
        #expect(try await shared.value() == 7)
    }

    /// With `refreshAfter`, a caller past it is answered from the finished
    /// read at once and begins the next one; callers after that read get its
    /// value, and nobody ever gets one begun `maxAge` before they asked.
    @Test func pastRefreshAfterACallerIsAnsweredAtOnceAndTheNextReadBegins() async throws {
        let source = Source()
        let shared = SharedRead(maxAge: .seconds(60), refreshAfter: .milliseconds(30)) { try await source.read() }
        source.writes.add(1, ordering: .sequentiallyConsistent)
        #expect(try await shared.value() == 1)
        try await Task.sleep(for: .milliseconds(40))
        source.writes.add(1, ordering: .sequentiallyConsistent)
        // The refresh sees write 2: a caller that waited for it would get 2.
        #expect(try await shared.value() == 1, "past refreshAfter: the finished read, without waiting")
        // Nobody waited for the refresh: it ran in the background, and callers then get its value.
        // The deadline only ends a hang: with the whole suite running on two
        // cores the refresh task may wait many seconds for a thread.
        let deadline = ContinuousClock.now + .seconds(120)
        var latest = 1
        while latest == 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
            latest = try await shared.value()
        }
        #expect(latest == 2, "callers after the refresh get its value")

        let brief = SharedRead(maxAge: .milliseconds(30), refreshAfter: .milliseconds(10)) { try await source.read() }
        _ = try await brief.value()
        try await Task.sleep(for: .milliseconds(40))
        source.writes.add(1, ordering: .sequentiallyConsistent)
        #expect(try await brief.value() == 3, "past maxAge a caller waits for a fresh read")
    }
}
