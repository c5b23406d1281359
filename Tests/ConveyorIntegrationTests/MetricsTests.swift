import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing

/// `metrics` against the real `conveyord`: the queue, handoffs by kind, the
/// latency histograms, alerts, the admin socket's own figures and folded
/// audit rows, as a Prometheus scrape reads them.
@Suite struct MetricsTests {
    @Test func aScrapeShowsTheQueueHandoffsLatenciesAlertsAndTheAdminSocket() throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase())
        defer { daemon.stop() }
        let client = try daemon.connect()
        _ = try client.result("team.add", ["name": "rail \"east\""])
        _ = try client.result("rep.add", ["team": "rail \"east\"", "ref": "ivan", "role": "closer"])
        for manager in ["olga", "anna"] {
            _ = try client.result("rep.add", ["team": "rail \"east\"", "ref": .string(manager), "role": "account_manager", "capacity": 5])
        }
        _ = try client.result("win", ["team": "rail \"east\"", "account": "acme", "hunter": "ivan"])
        let db = try TestPostgres.connect(daemon.databaseURL)
        #expect(eventually { (try? HandoffDaemon.int(db, "select count(*) from conveyor.handoffs")) == 1 })
        let owner = try db.query("select o.ref from conveyor.accounts a join conveyor.reps o on o.id = a.owner_id")[0]["ref"].string()
        _ = try client.result("account.reassign", ["team": "rail \"east\"", "ref": "acme", "to": owner == "olga" ? "anna" : "olga"])
        // Two identical refusals: the second is folded into the first's audit row.
        for _ in 0..<2 { #expect(try client.request("team.add", ["name": ""]).errorCode == .invalidArgument) }

        let text = try #require(try client.result("metrics")["text"]?.stringValue)
        #expect(samples(text, "conveyor_database_up") == ["": 1])
        #expect(samples(text, "conveyor_queue_jobs")[#"{kind="handoff",state="succeeded"}"#] == 1, "\(text)")
        // The team's name is escaped as the text format wants.
        #expect(samples(text, "conveyor_handoffs_total") == [
            #"{team="rail \"east\"",kind="auto"}"#: 1, #"{team="rail \"east\"",kind="manual"}"#: 1,
        ], "\(text)")
        #expect(samples(text, "conveyor_job_latency_seconds_count")[#"{kind="handoff"}"#] == 1, "\(text)")
        #expect(samples(text, "conveyor_job_wait_seconds_count")[#"{kind="handoff"}"#] == 1, "\(text)")
        #expect(samples(text, "conveyor_admin_audit_folded_total") == ["": 1], "\(text)")
        #expect(samples(text, "conveyor_admin_connections")[#"{kind="requests"}"#] == 1, "\(text)")
        let answers = samples(text, "conveyor_admin_requests_total")
        #expect((answers[#"{code="ok"}"#] ?? 0) >= 6, "\(answers)")
        #expect(answers[#"{code="invalid_argument"}"#] == 2, "\(answers)")
        #expect(text.contains("# TYPE conveyor_alerts gauge"))
        #expect(text.contains("# TYPE conveyor_job_latency_seconds histogram"), "\(text)")
    }

    @Test func aScrapeWhileTheDatabaseIsDownSaysSoAndKeepsTheDaemonsOwnFigures() throws {
        let server = try PrivatePostgres.start(name: "metrics-down")
        defer { server.stop() }
        let daemon = try DaemonProcess(database: try server.makeDatabase())
        defer { daemon.stop() }
        let client = try daemon.connect()
        _ = try client.result("ping")
        server.stop()
        let text = try #require(try client.result("metrics")["text"]?.stringValue)
        #expect(samples(text, "conveyor_database_up") == ["": 0], "\(text)")
        #expect(samples(text, "conveyor_queue_jobs").isEmpty)
        #expect(samples(text, "conveyor_admin_requests_total")[#"{code="ok"}"#] != nil, "\(text)")
    }
}
