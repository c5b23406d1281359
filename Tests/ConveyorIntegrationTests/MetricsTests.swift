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

/// `metrics_textfile`: the exposition written for node_exporter's textfile
/// collector, renamed into place, kept current, removed at shutdown.
@Suite struct MetricsTextfileTests {
    @Test func theTextfileIsWrittenKeptCurrentAndRemovedAtShutdown() throws {
        let directory = try TemporaryDirectory.make("cvy-prom")
        defer { TemporaryDirectory.remove(directory) }
        let path = directory + "/conveyor.prom"
        let daemon = try DaemonProcess(
            database: try TestPostgres.makeDatabase(),
            environment: ["CONVEYOR_METRICS_TEXTFILE": path, "CONVEYOR_METRICS_TEXTFILE_INTERVAL": "1"])
        defer { daemon.stop() }
        #expect(eventually { Files.exists(path) }, "\(daemon.log)")
        let first = try String(contentsOfFile: path, encoding: .utf8)
        #expect(samples(first, "conveyor_database_up") == ["": 1], "\(first)")
        #expect(first.contains("# TYPE conveyor_queue_jobs gauge"), "the same exposition as `metrics`")
        // A later write shows later figures: the admin request made now.
        _ = try daemon.connect().result("team.add", ["name": "rail"])
        #expect(eventually {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return (samples(text, "conveyor_admin_requests_total")[#"{code="ok"}"#] ?? 0) >= 1
        })
        daemon.signal(SIGTERM)
        #expect(try daemon.waitForExit() == 0)
        #expect(!Files.exists(path), "a stopped daemon's figures are not left to look current")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "no temporary file is left behind")
    }

    /// A directory that does not exist is a warning, logged once, and the daemon serves on.
    @Test func anUnwritableTextfileIsLoggedOnceAndHarmsNothing() throws {
        let directory = try TemporaryDirectory.make("cvy-prom")
        defer { TemporaryDirectory.remove(directory) }
        let daemon = try DaemonProcess(
            database: try TestPostgres.makeDatabase(),
            environment: ["CONVEYOR_METRICS_TEXTFILE": directory + "/missing/conveyor.prom", "CONVEYOR_METRICS_TEXTFILE_INTERVAL": "1"])
        defer { daemon.stop() }
        #expect(daemon.waitForLog(message: "cannot write the metrics textfile; will retry"))
        Thread.sleep(forTimeInterval: 2.2)
        #expect(daemon.logRecords.count { $0["msg"] == "cannot write the metrics textfile; will retry" } == 1, "\(daemon.log)")
        #expect(try daemon.connect().result("ping") == ["pong": true])
    }
}
