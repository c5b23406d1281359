import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing

/// `drain` against the real `conveyord`: it stops claiming at once and answers
/// when the batch in flight has committed, or when its timeout passes, with
/// progress events while it waits. A batch is held in flight by locking the
/// table its probe job writes to.
@Suite struct DrainTests {
    /// A daemon whose one routine worker is stuck in a probe batch until `body` commits `blocker`.
    private func withBatchInFlight(_ body: (DaemonProcess, AdminClient, PostgresConnection) throws -> Void) throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), environment: ["CONVEYOR_WORKERS": "1"])
        defer { daemon.stop() }
        let blocker = try PostgresConnection(conninfo: daemon.databaseURL)
        try blocker.query("begin")
        try blocker.query("lock table conveyor.probes in exclusive mode")
        let writer = try PostgresConnection(conninfo: daemon.databaseURL)
        _ = try QueueTest.insertProbeJobs(writer, count: 1)
        let client = try daemon.connect()
        #expect(eventually { (try? client.result("status")["workers"]?["batches_in_flight"]) == 1 })
        try body(daemon, client, blocker)
    }

    /// The result of a `drain` that must succeed, past the progress events it sends while
    /// it waits (on a loaded machine even a batch that is free to commit can take seconds).
    private func drainResult(_ client: AdminClient, timeout: Int) throws -> JSONValue {
        #expect(try client.writeRaw(Array(Request(id: "r", cmd: "drain", args: ["timeout": .int(Int64(timeout))]).encodedLine().utf8) + [10]))
        while let line = try client.readLine(timeout: .seconds(30)) {
            let response = try Response.parse(line: line)
            if case .event = response { continue }
            return try #require(response.result, "\(line)")
        }
        throw TestSetupError("the daemon closed the connection instead of answering drain")
    }

    /// The drain's timeout is 8 s, so it sends several progress events (one a
    /// second) even if the daemon gets no core for seconds; it answers after
    /// it, and long before `answeredWithin`, where a drain that ignored it
    /// would answer at its default (60 s) or never (the batch is held until
    /// after the answer).
    @Test func drainWaitsWithProgressAndAnswersAtItsTimeout() throws {
        let answeredWithin = Duration.seconds(30)
        try withBatchInFlight { daemon, client, blocker in
            let started = ContinuousClock.now
            #expect(try client.writeRaw(Array(#"{"id":"d","cmd":"drain","args":{"timeout":8}}"#.utf8 + [10])))
            var events: [JSONValue] = []
            var answer: Response?
            while answer == nil, ContinuousClock.now - started < answeredWithin + .seconds(10), let line = try client.readLine(timeout: .seconds(30)) {
                switch try Response.parse(line: line) {
                case .event(let id, let event):
                    #expect(id == "d")
                    events.append(event)
                case let response:
                    answer = response
                }
            }
            let waited = ContinuousClock.now - started
            #expect(waited >= .seconds(8) && waited < answeredWithin, "\(waited)")
            #expect(events.count >= 1, "\(events)")
            #expect(events.allSatisfy { $0["drain"]?["in_flight"] == 1 }, "\(events)")
            let result = try #require(answer?.result, "\(String(describing: answer))")
            #expect(result["drained"] == false && result["in_flight"] == 1 && result["draining"] == true, "\(result)")

            // Once the batch commits, a second drain answers, drained, as soon as it has
            // (its timeout only ends a hang); nothing new is claimed.
            try blocker.query("commit")
            let drained = try drainResult(client, timeout: 60)
            #expect(drained["drained"] == true && drained["in_flight"] == 0, "\(drained)")
            #expect(try QueueTest.probeRows(blocker) == 1)
            _ = try QueueTest.insertProbeJobs(blocker, count: 3)
            Thread.sleep(forTimeInterval: 0.5)
            #expect(try QueueTest.probeRows(blocker) == 1, "a drained daemon claims nothing")
            #expect(try client.result("resume")["draining"] == false)
            #expect(eventually { (try? QueueTest.probeRows(blocker)) == 4 })
        }
    }

    @Test func badTimeoutsAreRefusedBeforeAnythingDrains() throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase())
        defer { daemon.stop() }
        let client = try daemon.connect()
        for timeout: JSONValue in ["abc", -1, 3601, 1.5, "", .array([])] {
            let response = try client.request("drain", ["timeout": timeout])
            #expect(response.errorCode == .invalidArgument, "\(timeout): \(response.encodedLine())")
        }
        #expect(try client.result("status")["workers"]?["draining"] == false)
        let quick = try client.result("drain", ["timeout": 10])
        #expect(quick["draining"] == true && quick["drained"] == true, "\(quick)")
        #expect(try client.result("drain", ["timeout": 0])["draining"] == true, "0 answers at once")
    }
}
