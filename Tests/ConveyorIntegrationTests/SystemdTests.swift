import ConveyorProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `conveyord run` under systemd's protocols, with a `NOTIFY_SOCKET` of the
/// test's own: `READY=1` only once it serves, `STATUS=` lines, `WATCHDOG=1`
/// when asked for, `RELOADING=1` and `READY=1` around a reload, `STOPPING=1`
/// when shutdown begins; and log lines led by their syslog priority when
/// stderr is the journal.
@Suite struct SystemdTests {
    /// What matters in order: leaves out the periodic pings and status lines.
    private func transitions(_ messages: [String]) -> [String] {
        messages.filter { $0 != "WATCHDOG=1" && !$0.hasPrefix("STATUS=") }
    }

    private func monotonicMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }

    @Test func everyStateChangeIsNotifiedInOrder() throws {
        let directory = try TemporaryDirectory.make("cvy-notify")
        defer { TemporaryDirectory.remove(directory) }
        let listener = try NotifyListener(directory: directory)
        let daemon = try DaemonProcess(
            database: try TestPostgres.makeDatabase(),
            environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000"],
            waitUntilReady: false)
        defer { daemon.stop() }

        // READY=1 comes first, and only once the daemon serves: the socket answers at
        // once and every worker is connected.
        let start = listener.collect { $0.hasPrefix("READY=1") }
        #expect(start.count == 1, "READY=1 is the first message: \(start)\n\(daemon.log)")
        #expect(start.last == "READY=1")
        // Then the first STATUS line, read from the database (the watchdog never waits for it).
        let status = listener.collect { $0.hasPrefix("STATUS=") }.last
        #expect(status == "STATUS=queue 0 available, 0 running, 0 dead; 0 handoffs waiting; 0 open alerts; no scan yet", "\(status ?? "none")")
        let client = try daemon.connect()
        let workers = try #require(try client.result("status")["workers"])
        let phases = (workers["phases"]?.arrayValue ?? []) + (workers["long_lane"]?.arrayValue ?? [])
        #expect(!phases.isEmpty && phases.allSatisfy { $0 == "connected" }, "\(workers)")

        // WATCHDOG=1 at half the interval while healthy: 40 in 20 s, at most 21 if it pinged
        // at the whole interval. At least 24 tells the two apart and leaves 8 s of pings to
        // lose to a loaded machine (a late ping is not made up for).
        let pinged = listener.collect(until: { _ in false }, timeout: .seconds(20))
        #expect(pinged.count { $0 == "WATCHDOG=1" } >= 24, "\(pinged)")

        // SIGHUP: RELOADING=1 with the monotonic clock's now, then READY=1.
        let before = monotonicMicroseconds()
        daemon.signal(SIGHUP)
        let reload = transitions(listener.collect { $0 == "READY=1" })
        #expect(reload.count == 2 && reload.last == "READY=1", "\(reload)")
        let reloading = try #require(reload.first).split(separator: "\n")
        #expect(reloading.first == "RELOADING=1", "\(reloading)")
        let stamp = try #require(reloading.last.flatMap { Int64($0.dropFirst("MONOTONIC_USEC=".count)) }, "\(reloading)")
        #expect(reloading.last?.hasPrefix("MONOTONIC_USEC=") == true)
        #expect(stamp >= before && stamp <= monotonicMicroseconds(), "\(stamp) is CLOCK_MONOTONIC in microseconds")

        // config.reload over the socket says the same.
        _ = try client.result("config.reload")
        #expect(transitions(listener.collect { $0 == "READY=1" }).first?.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") == true)

        // SIGTERM: STOPPING=1 as the shutdown begins, then nothing else changes.
        daemon.signal(SIGTERM)
        #expect(transitions(listener.collect { $0 == "STOPPING=1" }) == ["STOPPING=1"])
        #expect(try daemon.waitForExit() == 0, "\(daemon.log)")
        #expect(transitions(listener.collect(until: { _ in false }, timeout: .milliseconds(200))).isEmpty)
    }

    /// A database that does not answer (the queue locked by another session,
    /// as a migration on another host would) holds up the workers and the
    /// status read, but not the watchdog: waiting for PostgreSQL is survived.
    /// Held up, it would send no ping while the lock is held; pinging, it sends
    /// one every 0.3 s, so 4 in 10 s leave room for a loaded machine.
    @Test func aBlockedDatabaseDoesNotStopTheWatchdog() throws {
        let directory = try TemporaryDirectory.make("cvy-notify")
        defer { TemporaryDirectory.remove(directory) }
        let listener = try NotifyListener(directory: directory)
        let database = try TestPostgres.makeDatabase()
        let daemon = try DaemonProcess(
            database: database, environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "600000"], waitUntilReady: false)
        defer { daemon.stop() }
        #expect(listener.collect { $0 == "READY=1" }.last == "READY=1", "\(daemon.log)")
        let locker = try TestPostgres.connect(database)
        try locker.execute("BEGIN; LOCK TABLE conveyor.jobs IN ACCESS EXCLUSIVE MODE")
        // A status read is left waiting on the lock too.
        let client = try daemon.connect()
        _ = try? client.send(#"{"cmd":"status"}"#, timeout: .milliseconds(100))
        let whileLocked = listener.collect(until: { _ in false }, timeout: .seconds(10))
        try locker.execute("ROLLBACK")
        #expect(whileLocked.count { $0 == "WATCHDOG=1" } >= 4, "pinged while the database was locked: \(whileLocked)")
    }

    /// Without `WATCHDOG_USEC`, or with a `WATCHDOG_PID` that is another
    /// process, no ping is sent; `shutdown` over the socket says STOPPING=1 too.
    @Test func theWatchdogIsPingedOnlyWhenItIsOurs() throws {
        let directory = try TemporaryDirectory.make("cvy-notify")
        defer { TemporaryDirectory.remove(directory) }
        for environment in [[:], ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"]] {
            let listener = try NotifyListener(directory: directory)
            let daemon = try DaemonProcess(
                database: try TestPostgres.makeDatabase(), environment: environment.merging(["NOTIFY_SOCKET": listener.path]) { a, _ in a },
                waitUntilReady: false)
            defer { daemon.stop() }
            #expect(listener.collect { $0.hasPrefix("READY=1") }.count == 1, "\(daemon.log)")
            let after = listener.collect(until: { _ in false }, timeout: .seconds(1))
            #expect(!after.contains("WATCHDOG=1"), "\(environment): \(after)")
            _ = try daemon.connect().result("shutdown")
            #expect(transitions(listener.collect { $0 == "STOPPING=1" }) == ["STOPPING=1"])
            #expect(try daemon.waitForExit() == 0)
        }
    }

    /// Outside systemd nothing is sent and nothing fails.
    @Test func aNotifySocketNobodyListensOnIsHarmless() throws {
        let directory = try TemporaryDirectory.make("cvy-notify")
        defer { TemporaryDirectory.remove(directory) }
        let daemon = try DaemonProcess(
            database: try TestPostgres.makeDatabase(),
            environment: ["NOTIFY_SOCKET": directory + "/nobody.sock", "WATCHDOG_USEC": "200000"])
        defer { daemon.stop() }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try daemon.connect().result("ping") == ["pong": true])
    }

    /// Under systemd, stderr is the journal's stream: each line starts with
    /// sd-daemon's `<N>` so `journalctl -p warning` filters by level.
    @Test func journalLinesCarryTheirSyslogPriority() throws {
        let database = try TestPostgres.makeDatabase()
        let daemon = try DaemonProcess(database: database, journal: true)
        defer { daemon.stop() }
        _ = try daemon.connect().result("log.level", ["level": "debug"])
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains(#""msg":"configuration reloaded""#) }, "\(daemon.log)")
        let lines = daemon.log.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.first == "<" && line.dropFirst(2).hasPrefix(">{"), "\(line)")
        }
        #expect(lines.contains { $0.hasPrefix("<5>") && $0.contains(#""msg":"configuration reloaded""#) }, "notice is 5")
        #expect(lines.contains { $0.hasPrefix("<6>") && $0.contains(#""level":"info""#) }, "info is 6")

        // A start that fails says so at error priority, so `journalctl -p err` shows it.
        let failing = try DaemonProcess(database: database, environment: ["CONVEYOR_WORKERS": "0"], waitUntilReady: false, journal: true)
        #expect(try failing.waitForExit() != 0)
        #expect(failing.log.hasPrefix("<3>conveyord: bad configuration: CONVEYOR_WORKERS"), "\(failing.log)")

        // A JOURNAL_STREAM that is not our stderr (it was redirected) adds nothing.
        let plain = try DaemonProcess(database: database, environment: ["JOURNAL_STREAM": "1:2"])
        defer { plain.stop() }
        #expect(plain.log.split(separator: "\n").allSatisfy { $0.hasPrefix("{") }, "\(plain.log)")
    }
}
