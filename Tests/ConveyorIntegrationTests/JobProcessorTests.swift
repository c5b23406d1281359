import ConveyorCore
import ConveyorPostgres
import ConveyorStore
import Foundation
import Synchronization
import Testing

/// The work queue in process: `JobProcessor.runBatch` and `JobStore` against a
/// real PostgreSQL, with handlers defined here. Test handlers write their
/// effects to a table `effects(job_id, kind)` of the test's own database, so
/// "the effect happened exactly once" is a query.
@Suite struct JobProcessorTests {
    // MARK: test handlers

    /// Writes one effect row per job (set-based, like a real handler); then
    /// fails if a payload says `"poison"`: with a Swift error, with an SQL
    /// error that aborts the transaction (`"sql"`), or with an SQL error it
    /// swallows, returning normally from an aborted transaction (`"swallow"`).
    struct EffectHandler: JobHandler {
        let kind: String
        struct Poisoned: Error, CustomStringConvertible {
            let id: Int64
            var description: String { "poisoned payload in job \(id)" }
        }
        func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
            try connection.query("insert into effects (job_id, kind) select unnest($1::bigint[]), $2", [jobs.map(\.id), kind])
            if let poisoned = jobs.first(where: { $0.payload.contains("poison") }) {
                if poisoned.payload.contains("swallow") {
                    _ = try? connection.query("select 1 / 0")
                    return [:]
                }
                if poisoned.payload.contains("sql") { try connection.query("select 1 / 0") }
                throw Poisoned(id: poisoned.id)
            }
            return [:]
        }
    }

    /// Decodes `{"n": Int}` (a malformed payload is permanent) and refuses a
    /// negative `n` for good; writes an effect per job it accepts.
    struct StrictHandler: JobHandler {
        let kind = "strict"
        struct Payload: Decodable { let n: Int }
        func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
            for job in jobs {
                let payload = try job.decodePayload(Payload.self)
                guard payload.n >= 0 else { throw JobFailure.permanent("n must not be negative, got \(payload.n)") }
            }
            try connection.query("insert into effects (job_id, kind) select unnest($1::bigint[]), $2", [jobs.map(\.id), kind])
            return [:]
        }
    }

    /// Always fails: throws (`throwing`) or answers `.retry` per job.
    struct FlakyHandler: JobHandler {
        let kind: String
        let throwing: Bool
        struct Flake: Error, CustomStringConvertible {
            let attempt: Int
            var description: String { "flaked on attempt \(attempt)" }
        }
        func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
            if throwing {
                // effects written before the throw must be rolled back
                try connection.query("insert into effects (job_id, kind) select unnest($1::bigint[]), $2", [jobs.map(\.id), kind])
                throw Flake(attempt: jobs[0].attempts + 1)
            }
            // a handler that answers .retry has done nothing for the job
            return Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, .retry(error: "asked to retry on attempt \($0.attempts + 1)")) })
        }
    }

    /// Waits while the table `gate` is empty: until an hour from now when the
    /// payload says `"timed"`, else until an event; succeeds once the gate is open.
    struct GateHandler: JobHandler {
        let kind = "gated"
        func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
            guard try QueueTest.int(connection, "select count(*)::int from gate") == 0 else { return [:] }
            return Dictionary(uniqueKeysWithValues: jobs.map { job in
                (job.id, job.payload.contains("timed")
                    ? .waiting(until: Date().addingTimeInterval(3600), reason: "gate closed; look again in an hour")
                    : .waiting(until: nil, reason: "gate closed; wait for an event"))
            })
        }
    }

    /// Writes its effects, then (once) kills its own backend: the connection
    /// is lost in the middle of the batch.
    final class SuicidalHandler: JobHandler {
        let kind = "suicidal"
        private let armed = Atomic<Bool>(true)
        func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
            try connection.query("insert into effects (job_id, kind) select unnest($1::bigint[]), $2", [jobs.map(\.id), kind])
            if armed.exchange(false, ordering: .relaxed) {
                try connection.query("select pg_terminate_backend(pg_backend_pid())")
            }
            return [:]
        }
    }

    // MARK: helpers

    /// A fresh migrated database with the tests' tables `effects` and `gate`.
    static func freshQueue() throws -> (conninfo: String, connection: PostgresConnection) {
        let conninfo = try TestPostgres.makeDatabase()
        let connection = try TestPostgres.connect(conninfo)
        try connection.execute("""
            create table effects (job_id bigint not null, kind text not null);
            create table gate (opened_at timestamptz not null default now());
            """)
        return (conninfo, connection)
    }

    static func effects(_ connection: PostgresConnection, job id: Int64) throws -> Int {
        try QueueTest.int(connection, "select count(*)::int from effects where job_id = $1", [id])
    }

    static func states(_ connection: PostgresConnection) throws -> [String: Int] {
        var states: [String: Int] = [:]
        for row in try connection.query("select state, count(*)::int as n from conveyor.jobs group by state") {
            states[try row["state"].string()] = try row["n"].int()
        }
        return states
    }

    // MARK: one batch

    @Test func mixedKindsAllSucceedInOneBatch() throws {
        let (_, connection) = try Self.freshQueue()
        let processor = JobProcessor(handlers: [
            NoopHandler(), ProbeHandler(), EffectHandler(kind: "effect-a"), EffectHandler(kind: "effect-b"),
        ])
        var ids: [Int64] = []
        for index in 0..<40 {
            let kind = ["noop", "probe", "effect-a", "effect-b"][index % 4]
            ids.append(try JobStore.enqueue(connection, kind: kind, payload: "{\"index\": \(index)}"))
        }
        #expect(Set(ids).count == 40)

        let report = try processor.runBatch(on: connection)
        #expect(report == QueueTest.report(claimed: 40, succeeded: 40))
        for id in ids {
            let job = try QueueTest.job(connection, id)
            #expect(job.state == "succeeded")
            #expect(job.attempts == 1)
            #expect(job.lastError == nil)
            #expect(job.finished)
        }
        #expect(try QueueTest.int(connection, "select count(*)::int from conveyor.probes") == 10)
        #expect(try QueueTest.int(connection, "select count(*)::int from effects where kind = 'effect-a'") == 10)
        #expect(try QueueTest.int(connection, "select count(*)::int from effects where kind = 'effect-b'") == 10)
        #expect(try QueueTest.int(connection, """
            select count(*)::int from effects as e join conveyor.jobs as j on j.id = e.job_id where j.kind <> e.kind
            """) == 0)
        // Nothing left: the next batch claims nothing and changes nothing.
        #expect(try processor.runBatch(on: connection) == BatchReport())
        #expect(try Self.states(connection) == ["succeeded": 40])
    }

    enum PoisonStyle: String, CaseIterable, Sendable { case swiftError, sqlError, swallowedSqlError }

    @Test(arguments: PoisonStyle.allCases)
    func poisonJobFailsAloneAndItsEffectsRollBack(style: PoisonStyle) throws {
        let (_, connection) = try Self.freshQueue()
        let processor = JobProcessor(handlers: [EffectHandler(kind: "effect")], backoff: RetryBackoff(base: 30), jitter: { 0.5 })
        var good: [Int64] = []
        var poison: Int64 = 0
        for index in 0..<50 {
            if index == 17 {
                let payload = switch style {
                case .swiftError: #"{"poison": true}"#
                case .sqlError: #"{"poison": "sql"}"#
                case .swallowedSqlError: #"{"poison": "swallow"}"#
                }
                poison = try JobStore.enqueue(connection, kind: "effect", payload: payload)
            } else {
                good.append(try JobStore.enqueue(connection, kind: "effect", payload: "{\"index\": \(index)}"))
            }
        }

        let report = try processor.runBatch(on: connection)
        #expect(report == QueueTest.report(claimed: 50, succeeded: 49, retried: 1))
        // The 49 good jobs' effects committed exactly once (the failed
        // set-based attempt was rolled back before the one-by-one rerun).
        #expect(try QueueTest.int(connection, "select count(*)::int from effects") == 49)
        #expect(try QueueTest.int(connection, """
            select count(*)::int from (select job_id from effects group by job_id having count(*) <> 1) as d
            """) == 0)
        for id in good {
            #expect(try Self.effects(connection, job: id) == 1)
            let job = try QueueTest.job(connection, id)
            #expect(job.state == "succeeded" && job.attempts == 1)
        }
        // The poison job: no effect, retryable later with its error kept.
        #expect(try Self.effects(connection, job: poison) == 0)
        let failed = try QueueTest.job(connection, poison)
        #expect(failed.state == "retryable")
        #expect(failed.attempts == 1)
        #expect(!failed.finished)
        let expectedError = switch style {
        case .swiftError: "poisoned payload in job \(poison)"
        case .sqlError: "division by zero"
        case .swallowedSqlError: "current transaction is aborted"
        }
        #expect(failed.lastError?.contains(expectedError) == true, "last_error: \(failed.lastError ?? "nil")")
        #expect((failed.dueIn ?? 0) > 25)
        // Not due yet: nothing is claimed.
        #expect(try processor.runBatch(on: connection) == BatchReport())
    }

    @Test func permanentFailureAndMalformedPayloadAreDeadAtOnce() throws {
        let (_, connection) = try Self.freshQueue()
        let processor = JobProcessor(handlers: [StrictHandler()])
        let good = try JobStore.enqueue(connection, kind: "strict", payload: #"{"n": 1}"#)
        let malformed = try JobStore.enqueue(connection, kind: "strict", payload: #"{"n": "one"}"#)
        let refused = try JobStore.enqueue(connection, kind: "strict", payload: #"{"n": -1}"#)
        let alsoGood = try JobStore.enqueue(connection, kind: "strict", payload: #"{"n": 2}"#)

        let report = try processor.runBatch(on: connection)
        #expect(report == QueueTest.report(claimed: 4, succeeded: 2, dead: 2))
        for id in [good, alsoGood] {
            #expect(try QueueTest.job(connection, id).state == "succeeded")
            #expect(try Self.effects(connection, job: id) == 1)
        }
        let malformedJob = try QueueTest.job(connection, malformed)
        #expect(malformedJob.state == "dead")
        #expect(malformedJob.attempts == 1)
        #expect(malformedJob.finished)
        #expect(malformedJob.lastError?.contains("malformed strict payload") == true, "last_error: \(malformedJob.lastError ?? "nil")")
        let refusedJob = try QueueTest.job(connection, refused)
        #expect(refusedJob.state == "dead")
        #expect(refusedJob.attempts == 1)
        #expect(refusedJob.lastError == "n must not be negative, got -1")
        for id in [malformed, refused] { #expect(try Self.effects(connection, job: id) == 0) }
        // No retry loop: even with run_at in the past, dead jobs are never claimed.
        try connection.query("update conveyor.jobs set run_at = now() - interval '1 hour'")
        #expect(try processor.runBatch(on: connection) == BatchReport())
        #expect(try QueueTest.job(connection, malformed).attempts == 1)
    }

    @Test func unknownKindIsDead() throws {
        let (_, connection) = try Self.freshQueue()
        let processor = JobProcessor(handlers: [NoopHandler()])
        let known = try JobStore.enqueue(connection, kind: "noop")
        let unknown = try JobStore.enqueue(connection, kind: "no-such-kind", payload: #"{"x": 1}"#)

        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 2, succeeded: 1, dead: 1))
        #expect(try QueueTest.job(connection, known).state == "succeeded")
        let dead = try QueueTest.job(connection, unknown)
        #expect(dead.state == "dead")
        #expect(dead.attempts == 1)
        #expect(dead.finished)
        #expect(dead.lastError?.contains("no-such-kind") == true, "last_error: \(dead.lastError ?? "nil")")
        #expect(try processor.runBatch(on: connection) == BatchReport())
    }

    // MARK: retries

    @Test func retriesFollowTheBackoffExactlyUntilOutOfAttempts() throws {
        let (_, connection) = try Self.freshQueue()
        let backoff = RetryBackoff(base: 10, cap: 3600, jitter: 0.25)
        let processor = JobProcessor(
            handlers: [FlakyHandler(kind: "flaky-throw", throwing: true), FlakyHandler(kind: "flaky-answer", throwing: false)],
            backoff: backoff, jitter: { 0.5 })
        let thrower = try JobStore.enqueue(connection, kind: "flaky-throw", maxAttempts: 3)
        let answerer = try JobStore.enqueue(connection, kind: "flaky-answer", maxAttempts: 3)
        let ids = [thrower, answerer]
        let messages = [thrower: "flaked on attempt", answerer: "asked to retry on attempt"]

        for (attempt, expectedDelay) in [(1, 10.0), (2, 20.0)] {
            #expect(backoff.delay(afterAttempt: attempt, random: 0.5) == expectedDelay)
            #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 2, retried: 2))
            for id in ids {
                let row = try connection.query("""
                    select state, attempts, last_error, extract(epoch from run_at - attempted_at)::float8 as delay
                    from conveyor.jobs where id = $1
                    """, [id])[0]
                #expect(try row["state"].string() == "retryable")
                #expect(try row["attempts"].int() == attempt)
                // run_at and attempted_at both come from one clock reading: exact.
                #expect(try row["delay"].double() == expectedDelay)
                #expect(try row["last_error"].optionalString() == "\(messages[id]!) \(attempt)")
            }
            // Not due yet.
            #expect(try processor.runBatch(on: connection) == BatchReport())
            // Advance the clock: the jobs are due and run again.
            try connection.query("update conveyor.jobs set run_at = now() where id = any($1::bigint[])", [ids])
        }

        // Third attempt of three: dead, with the last error kept.
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 2, dead: 2))
        for id in ids {
            let job = try QueueTest.job(connection, id)
            #expect(job.state == "dead")
            #expect(job.attempts == 3)
            #expect(job.finished)
            #expect(job.lastError == "\(messages[id]!) 3")
        }
        #expect(try QueueTest.int(connection, "select count(*)::int from effects") == 0)
        try connection.query("update conveyor.jobs set run_at = now() - interval '1 day'")
        #expect(try processor.runBatch(on: connection) == BatchReport())
    }

    @Test func jitterSpreadsTheDelayWithinItsBounds() throws {
        let (_, connection) = try Self.freshQueue()
        let backoff = RetryBackoff(base: 8, cap: 3600, jitter: 0.25)
        for (random, expected) in [(0.0, 6.0), (0.75, 9.0)] {
            let processor = JobProcessor(handlers: [FlakyHandler(kind: "flaky", throwing: true)], backoff: backoff, jitter: { random })
            let id = try JobStore.enqueue(connection, kind: "flaky")
            #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 1, retried: 1))
            #expect(try connection.query(
                "select extract(epoch from run_at - attempted_at)::float8 as delay from conveyor.jobs where id = $1", [id]
            )[0]["delay"].double() == expected)
        }
    }

    // MARK: waiting

    @Test func waitingJobsAreParkedUntilWoken() throws {
        let (conninfo, connection) = try Self.freshQueue()
        let processor = JobProcessor(handlers: [GateHandler()])
        let timed = try JobStore.enqueue(connection, kind: "gated", payload: #"{"timed": true}"#)
        let untimed = try JobStore.enqueue(connection, kind: "gated")
        let listener = try TestPostgres.connect(conninfo)
        try listener.listen("conveyor_jobs")

        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 2, waiting: 2))
        let parked = try QueueTest.job(connection, timed)
        #expect(parked.state == "waiting")
        #expect(parked.attempts == 0, "waiting is not a failed attempt")
        #expect(parked.lastError == "gate closed; look again in an hour")
        #expect(!parked.finished)
        #expect(abs((parked.dueIn ?? 0) - 3600) < 60)
        let forever = try QueueTest.job(connection, untimed)
        #expect(forever.state == "waiting")
        #expect(forever.dueIn == nil, "no wake-up time: run_at is infinity")

        // Parked jobs are not claimed, even once the gate opens: they wait for an event.
        try connection.query("insert into gate default values")
        #expect(try processor.runBatch(on: connection) == BatchReport())
        #expect(try JobStore.wakeDueWaiting(connection) == 0)
        #expect(try listener.waitForNotifications(timeout: 0.3).isEmpty, "nothing woken: no notification")

        // The clock passes the timed job's wake-up time.
        try connection.query("update conveyor.jobs set run_at = now() - interval '1 second' where id = $1", [timed])
        #expect(try JobStore.wakeDueWaiting(connection) == 1)
        let notifications = try listener.waitForNotifications(timeout: 30)
        #expect(notifications.map(\.channel) == ["conveyor_jobs"])
        #expect(try QueueTest.job(connection, timed).state == "available")
        #expect(try QueueTest.job(connection, untimed).state == "waiting")
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 1, succeeded: 1))
        #expect(try QueueTest.job(connection, timed).state == "succeeded")
        #expect(try QueueTest.job(connection, timed).attempts == 1)

        // The one without a wake-up time only moves on an event (here: an operator's retry).
        #expect(try JobStore.wakeDueWaiting(connection) == 0)
        #expect(try JobStore.retry(connection, id: untimed)?.state == "available")
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 1, succeeded: 1))
        #expect(try QueueTest.job(connection, untimed).state == "succeeded")
    }

    // MARK: scheduling

    /// `soon` is due 10 s ahead: time for the first claim to come before it on a loaded machine.
    @Test func futureJobIsNotClaimedUntilDue() async throws {
        let (_, connection) = try Self.freshQueue()
        let processor = JobProcessor(handlers: [ProbeHandler()])
        let soonAt = Date().addingTimeInterval(10)
        let soon = try JobStore.enqueue(connection, kind: "probe", runAt: soonAt)
        let later = try JobStore.enqueue(connection, kind: "probe", runAt: Date().addingTimeInterval(3600))

        #expect(try processor.runBatch(on: connection) == BatchReport())
        let next = try #require(try JobStore.nextRunAt(connection))
        #expect(abs(next.timeIntervalSince(soonAt)) < 0.000_01)

        try await Task.sleep(for: .seconds(max(0, soonAt.timeIntervalSinceNow) + 0.1))
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 1, succeeded: 1))
        #expect(try QueueTest.job(connection, soon).state == "succeeded")
        #expect(try QueueTest.int(connection, "select count(*)::int from conveyor.probes where job_id = $1", [soon]) == 1)
        #expect(try QueueTest.job(connection, later).state == "available")
        #expect(try processor.runBatch(on: connection) == BatchReport())

        try connection.query("update conveyor.jobs set run_at = now() where id = $1", [later])
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 1, succeeded: 1))
        #expect(try JobStore.nextRunAt(connection) == nil)
    }

    @Test func claimsByPriorityThenRunAtThenId() throws {
        let (_, connection) = try Self.freshQueue()
        let processor = JobProcessor(handlers: [NoopHandler()], batchSize: 1)
        let now = Date()
        let low = try JobStore.enqueue(connection, kind: "noop", priority: 5, runAt: now.addingTimeInterval(-10))
        let urgent = try JobStore.enqueue(connection, kind: "noop", priority: -1, runAt: now.addingTimeInterval(-1))
        let older = try JobStore.enqueue(connection, kind: "noop", runAt: now.addingTimeInterval(-5))
        let newer = try JobStore.enqueue(connection, kind: "noop", runAt: now.addingTimeInterval(-2))
        let twin = try JobStore.enqueue(connection, kind: "noop", runAt: now.addingTimeInterval(-2))
        var order: [Int64] = []
        while try processor.runBatch(on: connection).claimed == 1 {
            order.append(try connection.query(
                "select id from conveyor.jobs where state = 'succeeded' order by finished_at desc, id desc limit 1"
            )[0]["id"].int64())
            // finished_at is the transaction time; make each batch's distinct.
            try connection.query("update conveyor.jobs set finished_at = finished_at - interval '1 hour' where state = 'succeeded'")
        }
        #expect(order == [urgent, older, newer, twin, low])
    }

    // MARK: enqueue, retry, cancel

    @Test func uniqueKeyEnqueuedTwiceGivesTheSameJob() throws {
        let (conninfo, connection) = try Self.freshQueue()
        let listener = try TestPostgres.connect(conninfo)
        try listener.listen("conveyor_jobs")
        let first = try JobStore.enqueue(connection, kind: "probe", payload: #"{"n": 1}"#, uniqueKey: "report:42")
        #expect(try listener.waitForNotifications(timeout: 30).count == 1)
        let again = try JobStore.enqueue(connection, kind: "probe", payload: #"{"n": 2}"#, uniqueKey: "report:42")
        #expect(again == first)
        #expect(try listener.waitForNotifications(timeout: 0.3).isEmpty, "a duplicate enqueue inserts nothing and stays quiet")
        #expect(try QueueTest.int(connection, "select count(*)::int from conveyor.jobs where unique_key = 'report:42'") == 1)
        #expect(try QueueTest.int(connection, "select (payload ->> 'n')::int from conveyor.jobs where id = $1", [first]) == 1)

        let other = try JobStore.enqueue(connection, kind: "probe", uniqueKey: "report:43")
        let plain1 = try JobStore.enqueue(connection, kind: "probe")
        let plain2 = try JobStore.enqueue(connection, kind: "probe")
        #expect(Set([first, other, plain1, plain2]).count == 4)

        // Still the same job after it ran.
        #expect(try JobProcessor(handlers: [ProbeHandler()]).runBatch(on: connection).succeeded == 4)
        #expect(try JobStore.enqueue(connection, kind: "probe", uniqueKey: "report:42") == first)
        #expect(try QueueTest.job(connection, first).state == "succeeded")
        #expect(try QueueTest.int(connection, "select count(*)::int from conveyor.jobs") == 4)
    }

    @Test func concurrentEnqueuesOfOneKeyAgree() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let keys = (0..<300).map { "same:\($0)" }
        let results = TestPostgres.onThreads(3, connect: { try TestPostgres.connect(conninfo) }) { _, connection in
            try keys.map { try JobStore.enqueue(connection, kind: "noop", uniqueKey: $0) }
        }
        let ids = try results.map { try $0.get() }
        #expect(ids[0] == ids[1] && ids[1] == ids[2])
        #expect(Set(ids[0]).count == keys.count)
        let connection = try TestPostgres.connect(conninfo)
        #expect(try QueueTest.int(connection, "select count(*)::int from conveyor.jobs") == keys.count)
    }

    @Test func retryAndCancelApplyOnlyToTheirStates() throws {
        let (_, connection) = try Self.freshQueue()
        let processor = JobProcessor(handlers: [NoopHandler(), FlakyHandler(kind: "flaky", throwing: true)])
        let unknown = try JobStore.enqueue(connection, kind: "no-such-kind")
        let done = try JobStore.enqueue(connection, kind: "noop")
        let exhausted = try JobStore.enqueue(connection, kind: "flaky", maxAttempts: 1)
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 3, succeeded: 1, dead: 2))

        // A dead job comes back as available, now, and dies again.
        let retried = try #require(try JobStore.retry(connection, id: unknown))
        #expect(retried.id == unknown)
        #expect(retried.state == "available")
        #expect(retried.finishedAt == nil)
        #expect(retried.lastError?.contains("no-such-kind") == true, "the last error stays until the next attempt")
        #expect(abs(retried.runAt.timeIntervalSinceNow) < 5)
        // An exhausted job gets exactly one more attempt.
        let again = try #require(try JobStore.retry(connection, id: exhausted))
        #expect(again.state == "available")
        #expect(again.maxAttempts == 2)
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 2, dead: 2))
        #expect(try QueueTest.job(connection, unknown).attempts == 2)
        #expect(try QueueTest.job(connection, exhausted).attempts == 2)
        #expect(try QueueTest.job(connection, exhausted).state == "dead")

        // A succeeded job cannot be retried or cancelled.
        #expect(try JobStore.retry(connection, id: done) == nil)
        #expect(try JobStore.cancel(connection, id: done) == nil)
        #expect(try JobStore.state(connection, id: done) == "succeeded")
        // Dead jobs cannot be cancelled; unknown ids are nil everywhere.
        #expect(try JobStore.cancel(connection, id: unknown) == nil)
        #expect(try JobStore.retry(connection, id: 999_999) == nil)
        #expect(try JobStore.cancel(connection, id: 999_999) == nil)
        #expect(try JobStore.state(connection, id: 999_999) == nil)

        // Cancel: available and retryable jobs; never claimed afterwards.
        let pending = try JobStore.enqueue(connection, kind: "noop")
        let scheduled = try JobStore.enqueue(connection, kind: "noop", runAt: Date().addingTimeInterval(3600))
        let cancelled = try #require(try JobStore.cancel(connection, id: pending))
        #expect(cancelled.state == "cancelled")
        #expect(cancelled.finishedAt != nil)
        #expect(try JobStore.cancel(connection, id: scheduled)?.state == "cancelled")
        #expect(try JobStore.cancel(connection, id: pending) == nil, "already cancelled")
        try connection.query("update conveyor.jobs set run_at = now() - interval '1 minute' where id = $1", [scheduled])
        #expect(try processor.runBatch(on: connection) == BatchReport())
        // A cancelled job can be retried: it runs.
        #expect(try JobStore.retry(connection, id: pending)?.state == "available")
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 1, succeeded: 1))
        #expect(try JobStore.state(connection, id: pending) == "succeeded")

        // A retryable job can be retried early (run_at now, attempts kept) or cancelled.
        let early = try JobStore.enqueue(connection, kind: "flaky", maxAttempts: 5)
        let dropped = try JobStore.enqueue(connection, kind: "flaky", maxAttempts: 5)
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 2, retried: 2))
        let hurried = try #require(try JobStore.retry(connection, id: early))
        #expect(hurried.state == "available")
        #expect(hurried.attempts == 1)
        #expect(hurried.maxAttempts == 5)
        #expect(abs(hurried.runAt.timeIntervalSinceNow) < 5)
        #expect(try JobStore.cancel(connection, id: dropped)?.state == "cancelled")
        #expect(try processor.runBatch(on: connection) == QueueTest.report(claimed: 1, retried: 1))
        #expect(try QueueTest.job(connection, early).attempts == 2)
        try connection.query("delete from conveyor.jobs where id = any($1::bigint[])", [[early, dropped]])

        // list and counts agree with the table.
        let dead = try JobStore.list(connection, state: "dead", limit: 10)
        #expect(Set(dead.map(\.id)) == [unknown, exhausted])
        #expect(try JobStore.list(connection, state: nil, limit: 2).map(\.id) == [scheduled, pending])
        let counts = try JobStore.counts(connection)
        #expect(counts.filter { $0.state == "dead" }.map(\.jobs).reduce(0, +) == 2)
        #expect(counts.filter { $0.state == "succeeded" }.map(\.jobs).reduce(0, +) == 2)
        #expect(counts.filter { $0.state == "cancelled" }.map(\.jobs).reduce(0, +) == 1)
    }

    // MARK: pruning

    @Test func pruneDeletesOldFinishedJobsInBatchesButKeepsDeadOnes() throws {
        let (_, connection) = try Self.freshQueue()
        try connection.execute("""
            insert into conveyor.jobs (kind, state, attempts, finished_at)
            select 'noop', 'succeeded', 1, now() - interval '2 days' from generate_series(1, 2500);
            insert into conveyor.jobs (kind, state, finished_at)
            select 'noop', 'cancelled', now() - interval '3 days' from generate_series(1, 5);
            insert into conveyor.jobs (kind, state, attempts, finished_at)
            select 'noop', 'succeeded', 1, now() - interval '1 hour' from generate_series(1, 10);
            insert into conveyor.jobs (kind, state, attempts, finished_at, last_error)
            select 'noop', 'dead', 20, now() - interval '30 days', 'gave up' from generate_series(1, 7);
            insert into conveyor.jobs (kind, run_at) select 'noop', now() - interval '5 days' from generate_series(1, 3);
            """)
        let deleted = try JobStore.prune(connection, retention: 86_400, batch: 1000)
        #expect(deleted == 2505)
        #expect(try Self.states(connection) == ["succeeded": 10, "dead": 7, "available": 3])
        #expect(try QueueTest.int(connection, "select count(*)::int from conveyor.jobs where finished_at < now() - interval '1 day' and state <> 'dead'") == 0)
        // Idempotent; a batch size that divides the count exactly also terminates.
        #expect(try JobStore.prune(connection, retention: 86_400, batch: 1000) == 0)
        #expect(try JobStore.prune(connection, retention: 60, batch: 5) == 10)
        #expect(try Self.states(connection) == ["dead": 7, "available": 3])
    }

    // MARK: crashes and concurrency

    @Test func connectionLostMidBatchRollsEverythingBack() throws {
        let (conninfo, setup) = try Self.freshQueue()
        let ids = try (0..<20).map { _ in try JobStore.enqueue(setup, kind: "suicidal") }
        let processor = JobProcessor(handlers: [SuicidalHandler()])

        let doomed = try TestPostgres.connect(conninfo)
        do {
            _ = try processor.runBatch(on: doomed)
            Issue.record("a batch whose connection died must throw")
        } catch let error as PostgresError {
            #expect(error.isConnectionLoss, "\(error)")
        }
        // Nothing of the batch survived: no effects, no outcome, no attempt used, no lock held.
        #expect(try QueueTest.int(setup, "select count(*)::int from effects") == 0)
        #expect(try Self.states(setup) == ["available": 20])
        #expect(try QueueTest.int(setup, "select coalesce(sum(attempts), 0)::int from conveyor.jobs") == 0)

        let survivor = try TestPostgres.connect(conninfo)
        #expect(try processor.runBatch(on: survivor) == QueueTest.report(claimed: 20, succeeded: 20))
        for id in ids { #expect(try Self.effects(setup, job: id) == 1) }
    }

    @Test func twoWorkersOnTwoThreadsRunEveryJobExactlyOnce() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let setup = try TestPostgres.connect(conninfo)
        let total = 5000
        try QueueTest.insertProbeJobs(setup, count: total)
        let processor = JobProcessor(handlers: [ProbeHandler()], batchSize: 50)
        let observer = try TestPostgres.connect(conninfo)
        let finished = SharedCounter()

        var observed: Result<Int, any Error> = .success(0)
        let results = TestPostgres.onThreads(2, connect: { try TestPostgres.connect(conninfo) }, whileRunning: {
            // Watches from outside while the workers run: never a 'running' job.
            // (Bounded: a worker that cannot connect never counts itself finished.)
            let deadline = ContinuousClock.now + .seconds(120)
            observed = Result {
                var runningSeen = 0
                while finished.value.load(ordering: .relaxed) < 2 && ContinuousClock.now < deadline {
                    runningSeen += try QueueTest.int(observer, "select count(*)::int from conveyor.jobs where state = 'running'")
                    usleep(2000)
                }
                return runningSeen
            }
        }) { _, connection in
            defer { finished.value.add(1, ordering: .relaxed) }
            var claimed = 0
            while true {
                let report = try processor.runBatch(on: connection)
                if report.claimed == 0 { break }
                guard report.succeeded == report.claimed else { throw TestSetupError("batch did not all succeed: \(report)") }
                claimed += report.claimed
            }
            return claimed
        }
        #expect(try observed.get() == 0)

        let claimed = try results.map { try $0.get() }
        #expect(claimed.reduce(0, +) == total, "each job claimed once: \(claimed)")
        #expect(claimed.allSatisfy { $0 > 0 }, "both workers took part: \(claimed)")
        let tally = try QueueTest.probeTally(setup)
        #expect(tally.isExactlyOnce(expected: total), "\(tally)")
    }
}
