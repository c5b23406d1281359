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

    @Test func drainWaitsWithProgressAndAnswersAtItsTimeout() throws {
        try withBatchInFlight { daemon, client, blocker in
            let started = ContinuousClock.now
            #expect(try client.writeRaw(Array(#"{"id":"d","cmd":"drain","args":{"timeout":2}}"#.utf8 + [10])))
            var events: [JSONValue] = []
            var answer: Response?
            while answer == nil, let line = try client.readLine(timeout: .seconds(10)) {
                switch try Response.parse(line: line) {
                case .event(let id, let event):
                    #expect(id == "d")
                    events.append(event)
                case let response:
                    answer = response
                }
            }
            let waited = ContinuousClock.now - started
            #expect(waited >= .seconds(2) && waited < .seconds(6), "\(waited)")
            #expect(events.count >= 1, "\(events)")
            #expect(events.allSatisfy { $0["drain"]?["in_flight"] == 1 }, "\(events)")
            let result = try #require(answer?.result, "\(String(describing: answer))")
            #expect(result["drained"] == false && result["in_flight"] == 1 && result["draining"] == true, "\(result)")

            // Once the batch commits, a second drain answers at once, drained; nothing new is claimed.
            try blocker.query("commit")
            let drained = try client.result("drain", ["timeout": 10])
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
