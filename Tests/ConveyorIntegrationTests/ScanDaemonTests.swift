import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `scan.run` and `alert.list` against the real `conveyord`: the scan runs
/// as a job of the long lane and answers with its outcome; a second scan of
/// a team being scanned is refused with when that scan started; bad
/// arguments are refused; a scan in progress never blocks the team's
/// handoffs; alerts list by money at stake, filtered and paged, and
/// `conveyorctl alert.list` shows their figures in columns.
@Suite struct ScanDaemonTests {
    private func withTeam(_ body: (DaemonProcess, AdminClient, ScanFixture) throws -> Void) throws {
        let conninfo = try TestPostgres.makeDatabase()
        let team = try ScanFixture(conninfo: conninfo)
        try team.exampleAccounts()
        let daemon = try DaemonProcess(database: conninfo, environment: ["CONVEYOR_LOG_LEVEL": "notice"])
        defer { daemon.stop() }
        try body(daemon, try daemon.connect(), team)
    }

    @Test func scanRunAnswersWithTheOutcome() throws {
        try withTeam { _, client, team throws in
            let outcome = try client.result("scan.run", ["team": "rail"])
            for key in ["scanned", "not_scored", "opened", "updated", "resolved", "duration_ms", "job_id"] {
                #expect(outcome[key]?.intValue != nil, "\(key) in \(outcome)")
            }
            #expect(outcome["scanned"] == 7)
            #expect(outcome["opened"] == 5)
            #expect(try team.findings() == ScanFixture.exampleFindings)
            let again = try client.result("scan.run", ["team": "rail", "digest": "false"])
            #expect(again["opened"] == 0)
            #expect(again["updated"] == 5)
            let job = try #require(again["job_id"]?.intValue)
            let row = try team.db.query("select kind, state, team_id from conveyor.jobs where id = $1", [job])[0]
            #expect(try row["kind"].string() == "scan")
            #expect(try row["state"].string() == "succeeded")
            #expect(try row["team_id"].optionalInt64() == nil)
        }
    }

    @Test func badScanArgumentsAreRefused() throws {
        try withTeam { _, client, _ throws in
            #expect(try client.request("scan.run", ["team": "atlantis"]).errorCode == .notFound)
            #expect(try client.request("scan.run").errorCode == .invalidArgument)
            #expect(try client.request("scan.run", ["team": ""]).errorCode == .invalidArgument)
            #expect(try client.request("scan.run", ["team": "rail", "digest": "maybe"]).errorCode == .invalidArgument)
            #expect(try client.request("scan.run", ["team": .string(String(repeating: "x", count: 5000))]).errorCode == .notFound)
            #expect(try client.request("scan.run", ["team": ["nested": true]]).errorCode == .invalidArgument)
        }
    }

    @Test func aSecondScanWhileOneRunsIsAConflictSayingWhenItStarted() throws {
        try withTeam { _, client, team throws in
            let holder = try TestPostgres.connect(team.conninfo)
            try holder.execute("begin")
            _ = try holder.query("select conveyor.scan_team($1)", [team.teamId])
            let refused = try client.request("scan.run", ["team": "rail"])
            #expect(refused.errorCode == .conflict)
            #expect(refused.encodedLine().contains("already running (started 20"), "\(refused.encodedLine())")
            try holder.execute("rollback")
            #expect(try client.request("scan.run", ["team": "rail"]).isOK)
        }
    }

    @Test func aScanInProgressNeverBlocksTheTeamsHandoffs() throws {
        try withTeam { _, client, team throws in
            let holder = try TestPostgres.connect(team.conninfo)
            try holder.execute("begin")
            _ = try holder.query("select conveyor.scan_team($1)", [team.teamId])
            _ = try client.result("win", ["team": "rail", "account": "newco", "hunter": "hunter"])
            // Blocked by the scan, it would wait until the rollback below: the deadline only ends a hang.
            let deadline = ContinuousClock.now + .seconds(60)
            var owner: String?
            while owner == nil && ContinuousClock.now < deadline {
                owner = try client.result("account.show", ["team": "rail", "ref": "newco"])["account"]?["owner"]?.stringValue
                if owner == nil { Thread.sleep(forTimeInterval: 0.05) }
            }
            #expect(owner != nil && owner != "hunter", "handed off while the scan's transaction is open")
            try holder.execute("rollback")
        }
    }

    @Test func alertListFiltersSortsByMoneyAndPages() throws {
        try withTeam { daemon, client, _ throws in
            _ = try client.result("scan.run", ["team": "rail"])
            let all = try client.result("alert.list", ["team": "rail"])
            let accounts = all["alerts"]?.arrayValue?.map { $0["account"]?.stringValue ?? "" } ?? []
            // money: bowtie 700, top85 300, solo 200 (two alerts), hunter70 100
            #expect(accounts == ["bowtie", "top85", "solo", "solo", "hunter70"])
            #expect(all["next_after"] == .null)
            #expect(all["alerts"]?.arrayValue?.first?["money_at_stake"] == 700)

            let kind = try client.result("alert.list", ["kind": "single_threaded"])["alerts"]?.arrayValue ?? []
            #expect(kind.map { $0["account"]?.stringValue } == ["top85", "solo"])
            let byRep = try client.result("alert.list", ["rep": "hunter"])["alerts"]?.arrayValue ?? []
            #expect(byRep.map { $0["kind"]?.stringValue } == ["hunter_still_servicing"])
            let high = try client.result("alert.list", ["severity": "high"])["alerts"]?.arrayValue ?? []
            #expect(high.map { $0["account"]?.stringValue } == ["bowtie"])   // the top quarter: bowtie 700, fresh 600

            var pages: [[String]] = []
            var after: JSONValue = .null
            repeat {
                var args: [String: JSONValue] = ["team": "rail", "limit": 2]
                if after != .null { args["after"] = after }
                let page = try client.result("alert.list", args)
                pages.append(page["alerts"]?.arrayValue?.map { $0["account"]?.stringValue ?? "" } ?? [])
                after = page["next_after"] ?? .null
            } while after != .null && pages.count < 10
            #expect(pages == [["bowtie", "top85"], ["solo", "solo"], ["hunter70"]])

            for bad: [String: JSONValue] in [
                ["status": "closed"], ["severity": "urgent"], ["limit": 0], ["limit": 1001], ["limit": "many"],
                ["after": "yesterday"], ["after": "1/2/3"], ["after": "NaN/1"], ["after": "1e999/1"], ["after": "700/-1"],
                ["after": .string(String(repeating: "9", count: 100) + "/1")],
            ] {
                #expect(try client.request("alert.list", bad).errorCode == .invalidArgument, "\(bad)")
            }
            #expect(try client.result("alert.list", ["team": "nobody"])["alerts"] == [])

            let table = try daemon.ctl(["alert.list", "team=rail"])
            #expect(table.status == 0, "\(table)")
            let lines = table.stdout.split(separator: "\n").map(String.init)
            let header = lines.firstIndex(of: "alerts:").map { lines[$0 + 1] } ?? ""
            for column in ["id", "account", "kind", "severity", "rep", "share", "money", "interactions"] {
                #expect(header.contains(column), "\(header)")
            }
            #expect(table.stdout.contains("80%"), "bowtie's pair share: \(table.stdout)")
            #expect(!table.stdout.contains("top_people"), "details stay in --json: \(table.stdout)")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aScanWithDigestSendsTheSignedDigestToTheTeamsWebhook() throws {
        let receiver = try WebhookReceiver(secret: WebhookTest.secret)
        defer { receiver.stop() }
        try withTeam { _, client, team throws in
            // No webhook yet: digest=true has nowhere to go.
            _ = try client.result("scan.run", ["team": "rail", "digest": true])
            _ = try client.result("team.update", ["name": "rail", "webhook_url": .string(receiver.url()), "webhook_secret": .string(WebhookTest.secret)])
            // Without digest=true an on-demand scan sends nothing.
            _ = try client.result("scan.run", ["team": "rail"])
            // top85 gains a second person and clears; the digest says so.
            try team.interactions("top85", by: "m2", 7)
            _ = try client.result("scan.run", ["team": "rail", "digest": "true"])
            let requests = receiver.waitForRequests(1)
            try #require(requests.count == 1)
            usleep(300_000)
            #expect(receiver.requests.count == 1, "one digest, for the scan that asked for it")
            let request = requests[0]
            #expect((try? request.verification.get()) != nil, "signature: \(request.verification)")
            let digest = try JSONValue(parsing: String(decoding: request.body, as: UTF8.self))
            #expect(digest["type"] == "attachment_digest")
            #expect(digest["team"] == "rail")
            #expect(digest["outcome"]?["updated"] == 4)
            #expect(digest["opened"]?["count"] == 0)
            #expect(digest["still_open"]?["count"] == 4)
            #expect(digest["resolved"]?["count"] == 1)
            #expect(digest["resolved"]?["alerts"]?.arrayValue?.first?["account"] == "top85")
            #expect(digest["resolved"]?["alerts"]?.arrayValue?.first?["resolution"] == "cleared")
            let top = digest["top_accounts"]?.arrayValue ?? []
            #expect(top.map { $0["account"]?.stringValue } == ["bowtie", "solo", "hunter70"])
            #expect(top.first?["alerts"]?.arrayValue?.first?["details"]?["pair"]?["contact"] == "Li Wei")
        }
    }

    @Test func teamUpdateChangesTheScanSettingsAndTeamListShowsThem() throws {
        try withTeam { _, client, team throws in
            let updated = try client.result("team.update", [
                "name": "rail", "single_threaded_share": "0.6", "min_interactions": 3, "low_value_threshold": "150.5",
                "skills_fallback": true,
            ])["team"]
            #expect(updated?["single_threaded_share"] == 0.6)
            #expect(updated?["min_interactions"] == 3)
            #expect(updated?["window_days"] == 90)
            #expect(updated?["skills_fallback"] == true)
            let listed = try client.result("team.list")["teams"]?.arrayValue?.first { $0["name"] == "rail" }
            #expect(listed?["low_value_threshold"] == 150.5)
            #expect(listed?["hunter_grace_days"] == 14)
            // The new settings apply to the next scan: sparse (3 interactions) is scored now.
            _ = try client.result("scan.run", ["team": "rail"])
            #expect(try team.findings().contains(Finding("sparse", "single_threaded", "m1")))

            for (key, value): (String, JSONValue) in [
                ("window_days", 0), ("window_days", "3651"), ("window_days", "1.5"), ("min_interactions", "-1"),
                ("hunter_share", "0"), ("hunter_share", "1.01"), ("bow_tie_share", "NaN"), ("single_threaded_share", "inf"),
                ("low_value_threshold", "-1"), ("low_value_threshold", "1e400"), ("no_backup_days", "lots"),
                ("hunter_grace_days", .string(String(repeating: "9", count: 1000))), ("skills_fallback", "sometimes"),
                ("time_zone", "Mars/Olympus"), ("scan_local_time", "25:00"),
            ] {
                let refused = try client.request("team.update", ["name": "rail", key: value])
                #expect(refused.errorCode == .invalidArgument, "\(key)=\(value): \(refused.encodedLine())")
            }
            #expect(try client.request("team.update", ["name": "atlantis", "window_days": 30]).errorCode == .notFound)
            let unchanged = try client.result("team.list")["teams"]?.arrayValue?.first { $0["name"] == "rail" }
            #expect(unchanged?["window_days"] == 90)
        }
    }
}

private typealias Finding = ScanFixture.Finding
