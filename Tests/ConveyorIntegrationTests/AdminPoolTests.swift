import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing

/// Admin commands are served from a pool of database connections: one that
/// waits (here `rep.depart`, held on its team's routing lock) leaves `status`,
/// `ping` and `drain` answering at once.
@Suite struct AdminPoolTests {
    /// A daemon with team `t` and its account manager `r`, and `rep.depart` of `r`
    /// sent and stuck behind the team's routing lock until `body` returns.
    private func withDepartStuck(_ environment: [String: String], _ body: (DaemonProcess) throws -> Void) throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), environment: environment)
        defer { daemon.stop() }
        let setup = try daemon.connect()
        _ = try setup.result("team.add", ["name": "t"])
        _ = try setup.result("rep.add", ["team": "t", "ref": "r", "role": "account_manager"])
        let blocker = try PostgresConnection(conninfo: daemon.databaseURL)
        try blocker.query("begin")
        try blocker.query("""
            select 1 from conveyor.routing_epochs e join conveyor.teams t on t.id = e.team_id where t.name = 't' for update of e
            """)
        let departing = try daemon.connect()
        #expect(try departing.writeRaw(Array("rep.depart team=t ref=r\n".utf8)))
        // Polled from outside the blocker's transaction, which would see one cached pg_stat_activity.
        let observer = try PostgresConnection(conninfo: daemon.databaseURL)
        #expect(eventually(timeout: .seconds(15)) {
            (try? HandoffDaemon.int(observer, "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()")) == 1
        })
        try body(daemon)
        try blocker.query("commit")
        let departed = try Response.parse(line: try #require(try departing.readLine(timeout: .seconds(10))))
        #expect(departed.isOK, "\(departed.encodedLine())")
    }

    @Test func statusPingAndDrainAnswerWhileAnotherCommandWaits() throws {
        try withDepartStuck([:]) { daemon in
            let client = try daemon.connect()
            for command in ["status", "ping", "rep.list", "drain timeout=0", "resume"] {
                let started = ContinuousClock.now
                let response = try client.response(command, timeout: .seconds(2))
                #expect(response.isOK, "\(command): \(response.encodedLine())")
                #expect(ContinuousClock.now - started < .seconds(1), "\(command) took \(ContinuousClock.now - started)")
            }
        }
    }

    /// With a pool of one the same `status` waits behind the stuck command, as every
    /// command did when one connection served them all.
    @Test func aPoolOfOneQueuesBehindTheWaitingCommand() throws {
        try withDepartStuck(["CONVEYOR_ADMIN_DB_CONNECTIONS": "1"]) { daemon in
            let client = try daemon.connect()
            #expect(try client.response("ping", timeout: .seconds(2)).isOK, "ping needs no database")
            #expect(throws: (any Error).self) { try client.response("rep.list", timeout: .seconds(1)) }
        }
    }
}
