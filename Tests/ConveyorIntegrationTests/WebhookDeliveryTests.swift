import ConveyorDaemon
import ConveyorPostgres
import ConveyorProtocol
import ConveyorSignature
import ConveyorStore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Webhook deliveries (docs/webhooks.md) through the real `conveyord` to a
/// receiver on loopback (`WebhookReceiver`), which checks every signature
/// with `WebhookSignature.verify`. The jobs are queued with
/// `WebhookStore.enqueueDigest`, as the nightly scan does.
///
/// Serialized: timings matter (backoff, timeouts), on a 2-core machine.
@Suite(.serialized) struct WebhookDeliveryTests {
    struct World {
        let conninfo: String
        let db: PostgresConnection
        let watcher: QueueWatcher
        let daemon: DaemonProcess
        let teamId: Int64

        func stop() { daemon.stop() }
    }

    /// A database with team `rail` whose webhook is `url` (nil: none), and a daemon on it.
    static func world(url: String?, environment: [String: String] = [:]) throws -> World {
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        let teamId = try WebhookTest.addTeam(db, url: url)
        let daemon = try DaemonProcess(database: conninfo, environment: environment)
        return World(conninfo: conninfo, db: db, watcher: QueueWatcher(conninfo), daemon: daemon, teamId: teamId)
    }

    /// Team `rail`'s webhook is a receiver answering `replies`, then `otherwise`; a daemon
    /// runs with `environment`; one digest is queued. `body` gets them (and the job's id);
    /// daemon and receiver are stopped after.
    static func delivering(
        replies: [WebhookReceiver.Reply] = [], otherwise: WebhookReceiver.Reply = .status(200),
        environment: [String: String] = [:], _ body: (WebhookReceiver, World, Int64) throws -> Void
    ) throws {
        let receiver = try WebhookReceiver(secret: WebhookTest.secret, replies: replies, otherwise: otherwise)
        defer { receiver.stop() }
        let world = try world(url: receiver.url(), environment: environment)
        defer { world.stop() }
        let id = try #require(try WebhookStore.enqueueDigest(world.db, teamId: world.teamId, body: WebhookTest.digest))
        try body(receiver, world, id)
    }

    @Test(.timeLimit(.minutes(1)))
    func deliversTheDigestSignedWithTheTeamsSecret() throws {
        try Self.delivering { receiver, world, id in
            let job = try WebhookTest.waitForJob(world.watcher, id) { $0.state == "succeeded" }
            #expect(job.attempts == 1)
            let requests = receiver.requests
            try #require(requests.count == 1)
            let request = requests[0]
            #expect(request.method == "POST" && request.path == "/hook")
            #expect(request.body == Array(WebhookTest.digest.utf8), "the body is the digest, byte for byte")
            let timestamp = try request.verification.get()
            #expect(abs(Double(timestamp) - request.receivedAt.timeIntervalSince1970) < 60, "the signature's time is now, in unix seconds")
            #expect(request.header("Content-Type") == "application/json")
            #expect(request.header("User-Agent") == "conveyor/\(ConveyorVersion.current)")
            #expect(request.header("Conveyor-Delivery") == String(id))
            // The exact scheme, recomputed here: t=<unix seconds>,v1=HMAC-SHA256(secret, "<t>.<body>").
            #expect(request.header("Conveyor-Signature")
                == WebhookSignature.header(body: Array(WebhookTest.digest.utf8), secret: WebhookTest.secret, timestamp: timestamp))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func retriesFailedAnswersWithBackoffSigningEachAttemptAfresh() throws {
        try Self.delivering(replies: [.status(500), .status(503)]) { receiver, world, id in
            let failed = try WebhookTest.waitForJob(world.watcher, id) { $0.attempts == 1 }
            #expect(failed.state == "retryable")
            #expect(failed.lastError?.hasPrefix("POST answered 500 Internal Server Error: \"status 500\\n\"") == true, "\(failed)")
            #expect(failed.maxAttempts == WebhookStore.maxAttempts)

            let job = try WebhookTest.waitForJob(world.watcher, id) { $0.state == "succeeded" }
            #expect(job.attempts == 3 && job.lastError == nil)
            let requests = receiver.requests
            try #require(requests.count == 3)
            let timestamps = try requests.map { try $0.verification.get() }
            // A clock check (unix seconds, now), wide for a loaded machine; that each attempt is
            // signed when sent, not when queued, is the last check: a later attempt, a later time.
            for (request, timestamp) in zip(requests, timestamps) {
                #expect(abs(Double(timestamp) - request.receivedAt.timeIntervalSince1970) < 60, "signed at send time, in unix seconds")
            }
            // Backoff: about 1 s, then about 2 s (±25 %) between the attempts.
            let gaps = zip(requests.dropFirst(), requests).map { $0.receivedAt.timeIntervalSince($1.receivedAt) }
            #expect(gaps[0] >= 0.7 && gaps[1] >= 1.45, "\(gaps)")
            #expect(timestamps[2] > timestamps[0])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aRedirectIsAFailedAttemptThatNamesTheLocationAndIsNotFollowed() throws {
        try Self.delivering(otherwise: .redirect(location: "/moved-here")) { receiver, world, id in
            let job = try WebhookTest.waitForJob(world.watcher, id) { $0.attempts == 1 }
            #expect(job.state == "retryable")
            #expect(job.lastError?.contains("301 Moved Permanently") == true, "\(job)")
            #expect(job.lastError?.contains("\"/moved-here\"") == true, "\(job)")
            usleep(300_000)
            #expect(receiver.requests.map(\.path) == ["/hook"], "nothing went to the Location")
        }
    }

    /// The receiver answers after 40 s, the timeout is 1 s: given up within
    /// `gaveUpWithin`, wide for a loaded machine, it was the timeout.
    @Test(.timeLimit(.minutes(2)))
    func aSlowReceiverTimesOut() throws {
        let gaveUpWithin = 20.0
        try Self.delivering(otherwise: .stall(seconds: 40), environment: ["CONVEYOR_WEBHOOK_TIMEOUT": "1"]) { receiver, world, id in
            let started = Date()
            let job = try WebhookTest.waitForJob(world.watcher, id, timeout: 60) { $0.attempts == 1 }
            let took = Date().timeIntervalSince(started)
            #expect(job.state == "retryable")
            #expect(job.lastError == "POST timed out after 1 s", "\(job)")
            #expect(took >= 0.9 && took < gaveUpWithin, "given up at the timeout, not when the receiver answered: \(took) s")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aHugeAnswerIsNotReadToTheEnd() throws {
        // 10 MB, 64 KiB every 20 ms: reading all of it would take over 3 s, beyond the 2 s timeout.
        let size = 10_000_000
        let huge = WebhookReceiver.Reply.hugeBody(bytes: size, chunk: 65_536, pace: .milliseconds(20))
        try Self.delivering(otherwise: huge, environment: ["CONVEYOR_WEBHOOK_TIMEOUT": "2"]) { receiver, world, id in
            let job = try WebhookTest.waitForJob(world.watcher, id) { $0.state != "available" }
            #expect(job.state == "succeeded", "a 200 is a delivery, however long its answer: \(job)")
            let closed = try world.watcher.waitUntil(timeout: 30) { _ in receiver.streamed.clientClosedEarly }
            let streamed = receiver.streamed
            #expect(closed && !streamed.finished, "\(streamed)")
            #expect(streamed.sent < 1_000_000, "the daemon stopped reading after 64 KiB: \(streamed)")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func nothingListeningIsRetried() throws {
        let world = try Self.world(url: "http://127.0.0.1:\(try WebhookTest.closedPort())/hook")
        defer { world.stop() }

        let id = try #require(try WebhookStore.enqueueDigest(world.db, teamId: world.teamId, body: WebhookTest.digest))
        let job = try WebhookTest.waitForJob(world.watcher, id) { $0.attempts == 1 }
        #expect(job.state == "retryable")
        #expect(job.lastError == "POST failed: Connection refused", "\(job)")
    }

    @Test(.timeLimit(.minutes(1)))
    func outOfAttemptsIsDeadListedAndRetryable() throws {
        try Self.delivering(replies: [.status(500), .status(500)]) { receiver, world, id in
            try world.db.query("update conveyor.jobs set max_attempts = 2 where id = $1", [id])
            let dead = try WebhookTest.waitForJob(world.watcher, id) { $0.state == "dead" }
            #expect(dead.attempts == 2 && dead.lastError?.hasPrefix("POST answered 500") == true, "\(dead)")
            let admin = try world.daemon.connect()
            let listed = try admin.result("job.list", ["state": "dead"])["jobs"]?.arrayValue ?? []
            #expect(listed.compactMap { $0["id"]?.intValue } == [id])

            _ = try admin.result("job.retry", ["id": .int(id)])
            let job = try WebhookTest.waitForJob(world.watcher, id) { $0.state == "succeeded" }
            #expect(job.attempts == 3 && receiver.requests.count == 3)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aTeamWithoutItsWebhookOrGoneIsDeadAtOnce() throws {
        let receiver = try WebhookReceiver(secret: WebhookTest.secret)
        defer { receiver.stop() }
        let conninfo = try TestPostgres.makeDatabase()
        let db = try TestPostgres.connect(conninfo)
        let removed = try WebhookTest.addTeam(db, name: "rail", url: receiver.url())
        let deleted = try WebhookTest.addTeam(db, name: "sea", url: receiver.url())
        let unsigned = try WebhookTest.addTeam(db, name: "air", url: receiver.url())
        let jobs = try [removed, deleted, unsigned].map { try #require(try WebhookStore.enqueueDigest(db, teamId: $0, body: "{}")) }
        try db.query("update conveyor.teams set webhook_url = null where id = $1", [removed])
        try db.query("delete from conveyor.teams where id = $1", [deleted])
        try db.query("update conveyor.teams set webhook_secret = null where id = $1", [unsigned])

        let daemon = try DaemonProcess(database: conninfo)
        defer { daemon.stop() }
        let watcher = QueueWatcher(conninfo)
        let rows = try jobs.map { id in try WebhookTest.waitForJob(watcher, id) { $0.state == "dead" } }
        #expect(rows.map(\.attempts) == [1, 1, 1])
        #expect(rows[0].lastError == "team \"rail\" has no webhook_url any more (removed since this digest was queued)")
        #expect(rows[1].lastError == "team \(deleted) no longer exists")
        #expect(rows[2].lastError == "team \"air\" has no webhook_secret to sign with: set one with team.update")
        #expect(receiver.requests.isEmpty)
    }

    /// `scripts/webhook-receiver` (the README demo's) started with `secret`: its pid, port and output files.
    static func scriptReceiver(secret: String, in directory: String, name: String) throws -> (pid: pid_t, port: Int, output: String) {
        let script = SchemaSnapshotTests.packageRoot.appendingPathComponent("scripts/webhook-receiver").path
        let (portFile, output) = ("\(directory)/\(name).port", "\(directory)/\(name).out")
        let pid = try Spawn.start(
            ["/usr/bin/env", "python3", script, "--secret", secret, "--port-file", portFile, "--timeout", "30"], stdout: output, stderr: output)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return (pid, port, output)
            }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        throw TestSetupError("scripts/webhook-receiver did not start listening: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
    }

    @Test(.timeLimit(.minutes(2)))
    func theDemoReceiverScriptAcceptsADeliveryAndRefusesAForgedOne() throws {
        let directory = try TemporaryDirectory.make("cvy-hook")
        defer { TemporaryDirectory.remove(directory) }
        let trusting = try Self.scriptReceiver(secret: WebhookTest.secret, in: directory, name: "trusting")
        let suspicious = try Self.scriptReceiver(secret: "another-secret-0123456789", in: directory, name: "suspicious")
        let world = try Self.world(url: "http://127.0.0.1:\(trusting.port)/digest")
        defer { world.stop() }
        let sea = try WebhookTest.addTeam(world.db, name: "sea", url: "http://127.0.0.1:\(suspicious.port)/digest")

        let delivered = try #require(try WebhookStore.enqueueDigest(world.db, teamId: world.teamId, body: WebhookTest.digest))
        let forged = try #require(try WebhookStore.enqueueDigest(world.db, teamId: sea, body: WebhookTest.digest))
        #expect(Spawn.wait(trusting.pid, timeout: .seconds(40)) == 0)
        #expect(Spawn.wait(suspicious.pid, timeout: .seconds(40)) == 1)
        #expect(try WebhookTest.waitForJob(world.watcher, delivered) { $0.state == "succeeded" }.attempts == 1)
        let refused = try WebhookTest.waitForJob(world.watcher, forged) { $0.attempts == 1 }
        #expect(refused.lastError?.hasPrefix("POST answered 401 Unauthorized: \"refused: no v1 signature matches") == true, "\(refused)")
        let printed = try String(contentsOfFile: trusting.output, encoding: .utf8)
        #expect(printed.contains("delivery \(delivered), signed at ") && printed.contains("signature valid"), "\(printed)")
        #expect(printed.contains("team: rail") && printed.contains("opened: 1") && printed.contains("top_accounts: 1"), "\(printed)")
    }

    @Test func enqueueDigestQueuesNothingForATeamWithoutAWebhook() throws {
        let db = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let without = try WebhookTest.addTeam(db, url: nil)
        #expect(try WebhookStore.enqueueDigest(db, teamId: without, body: "{}") == nil)
        #expect(try WebhookStore.enqueueDigest(db, teamId: 999_999, body: "{}") == nil)
        #expect(try QueueTest.int(db, "select count(*)::int from conveyor.jobs") == 0)

        let with = try WebhookTest.addTeam(db, name: "sea", url: "https://hooks.example.com/x")
        let id = try #require(try WebhookStore.enqueueDigest(db, teamId: with, body: WebhookTest.digest))
        let row = try db.query("select kind, team_id, max_attempts, payload->>'body' as body, (payload->>'team_id')::bigint as payload_team from conveyor.jobs where id = $1", [id])[0]
        #expect(try row["kind"].string() == "webhook")
        #expect(row["team_id"].isNull, "no team_id: it never joins a team's routing batch")
        #expect(try row["max_attempts"].int() == WebhookStore.maxAttempts)
        #expect(try row["body"].string() == WebhookTest.digest)
        #expect(try row["payload_team"].int64() == with)
    }
}
