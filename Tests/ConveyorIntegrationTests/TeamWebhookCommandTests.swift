import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing

/// `team.update webhook_url=… webhook_secret=…` through the real daemon
/// (docs/protocol.md, docs/webhooks.md): the answers show the address and
/// whether a secret is set, and the secret appears in no answer, error
/// message, `status`, `admin_audit` row or log line; and the columns' check
/// constraints refuse by plain SQL what the command refuses.
@Suite struct TeamWebhookCommandTests {
    struct World {
        let db: PostgresConnection
        let daemon: DaemonProcess
        let client: AdminClient

        /// Everything the secret must never appear in.
        func expectNoLeak(of secret: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let audit = try db.query("select string_agg(args::text, ' ') as args from conveyor.admin_audit")[0]["args"].optionalString()
            #expect(audit?.contains(secret) == false, "admin_audit: \(audit ?? "")", sourceLocation: sourceLocation)
            #expect(!daemon.log.contains(secret), "the daemon's log", sourceLocation: sourceLocation)
            #expect(!(try client.request("status").encodedLine()).contains(secret), "status", sourceLocation: sourceLocation)
            #expect(!(try client.request("team.list").encodedLine()).contains(secret), "team.list", sourceLocation: sourceLocation)
            let table = try daemon.ctl(["team.list"])
            #expect(table.status == 0 && !table.stdout.contains(secret), "conveyorctl team.list", sourceLocation: sourceLocation)
        }
    }

    /// Distinctive, so that finding it anywhere is a leak.
    static let secret = "s3cr3t-Never-Shown-0123"

    /// A database with team `rail`, and a daemon logging everything it logs.
    static func world() throws -> World {
        let conninfo = try TestPostgres.makeDatabase()
        let daemon = try DaemonProcess(database: conninfo, environment: ["CONVEYOR_LOG_LEVEL": "trace"])
        let client = try daemon.connect()
        _ = try client.result("team.add", ["name": "rail"])
        return World(db: try TestPostgres.connect(conninfo), daemon: daemon, client: client)
    }

    @Test(.timeLimit(.minutes(1)))
    func answersShowTheAddressAndWhetherASecretIsSetNeverTheSecret() throws {
        let world = try Self.world()
        defer { world.daemon.stop() }
        let url = "https://hooks.example.com/conveyor?team=rail"

        let updated = try world.client.request("team.update", ["name": "rail", "webhook_url": .string(url), "webhook_secret": .string(Self.secret)])
        let team = try #require(updated.result?["team"])
        #expect(team["webhook_url"]?.stringValue == url)
        #expect(team["webhook_secret_set"]?.boolValue == true)
        #expect(team["webhook_secret"] == nil)
        #expect(!updated.encodedLine().contains(Self.secret))
        let listed = try world.client.result("team.list")["teams"]?.arrayValue?.first
        #expect(listed?["webhook_url"]?.stringValue == url && listed?["webhook_secret_set"]?.boolValue == true)
        let stored = try world.db.query("select webhook_url, webhook_secret from conveyor.teams where name = 'rail'")[0]
        #expect(try stored["webhook_url"].string() == url && stored["webhook_secret"].string() == Self.secret)

        // The audit keeps the change, with the secret redacted.
        let audited = try world.db.query(
            "select args->>'webhook_url' as url, args->>'webhook_secret' as secret from conveyor.admin_audit where command = 'team.update'")
        #expect(try audited.map { [try $0["url"].string(), try $0["secret"].string()] } == [[url, "(redacted)"]])

        // An empty value removes the address (absent from the answer, as every unset field); the secret stays, unshown.
        let cleared = try #require(try world.client.request("team.update", ["name": "rail", "webhook_url": ""]).result?["team"])
        #expect(cleared["webhook_url"] == nil && cleared["webhook_secret_set"]?.boolValue == true)
        #expect(try world.db.query("select webhook_url from conveyor.teams where name = 'rail'")[0]["webhook_url"].isNull)
        let unsigned = try #require(try world.client.request("team.update", ["name": "rail", "webhook_secret": ""]).result?["team"])
        #expect(unsigned["webhook_secret_set"]?.boolValue == false)
        try world.expectNoLeak(of: Self.secret)
    }

    @Test(.timeLimit(.minutes(1)))
    func refusesBadAddressesAndSecretsWithoutEchoingTheSecret() throws {
        let world = try Self.world()
        defer { world.daemon.stop() }
        let badURLs = [
            ("ftp://hooks.example.com/x", "webhook_url must be an http:// or https:// address"),
            ("javascript:alert(1)", "webhook_url must be an http:// or https:// address"),
            ("https://", "webhook_url must name a host"),
            ("https://hooks.example.com/a b", "webhook_url must not contain spaces"),
            ("https://hooks.example.com/" + String(repeating: "x", count: 2000), "webhook_url must be at most 2000 characters"),
        ]
        for (url, message) in badURLs {
            let response = try world.client.request("team.update", ["name": "rail", "webhook_url": .string(url), "webhook_secret": .string(Self.secret)])
            guard case .error(_, let error) = response else {
                Issue.record("\(url.prefix(40)) was accepted")
                continue
            }
            #expect(error.code == .invalidArgument && error.message.hasPrefix(message), "\(error)")
        }
        let badSecrets = [
            ("Shown-0123-s3cr", "webhook_secret must be 16 to 1000 characters, got 15"),
            (Self.secret + "\u{1}", "webhook_secret must not contain control characters"),
            (Self.secret + "\u{85}", "webhook_secret must not contain control characters"),
        ]
        for (secret, message) in badSecrets {
            let response = try world.client.request(
                "team.update", ["name": "rail", "webhook_url": "https://hooks.example.com/x", "webhook_secret": .string(secret)])
            #expect(response.errorCode == .invalidArgument, "\(response)")
            guard case .error(_, let error) = response else { continue }
            #expect(error.message == message)
            try world.expectNoLeak(of: secret)
        }
        // An address needs a secret to sign with: refused, and nothing changes.
        let unsigned = try world.client.request("team.update", ["name": "rail", "webhook_url": "https://hooks.example.com/x"])
        #expect(unsigned.errorCode == .conflict, "\(unsigned)")
        _ = try world.client.result("team.update", ["name": "rail", "webhook_url": "https://hooks.example.com/x", "webhook_secret": .string(Self.secret)])
        let unsigning = try world.client.request("team.update", ["name": "rail", "webhook_secret": ""])
        #expect(unsigning.errorCode == .conflict, "\(unsigning)")
        let stored = try world.db.query("select webhook_secret from conveyor.teams where name = 'rail'")[0]["webhook_secret"]
        #expect(try stored.string() == Self.secret)
        // A secret given to a command that takes none is refused by name, and not recorded either.
        let misplaced = try world.client.request("team.add", ["name": "sea", "webhook_secret": .string(Self.secret)])
        #expect(misplaced.errorCode == .invalidArgument)
        try world.expectNoLeak(of: Self.secret)
    }

    @Test func theColumnsRefuseByPlainSQLWhatTeamUpdateRefuses() throws {
        let db = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let id = try WebhookTest.addTeam(db, url: "https://hooks.example.com/x")
        for url in ["ftp://hooks.example.com/x", "javascript:alert(1)", "https://hooks.example.com/a b", "HTTPS://x", "https://" + String(repeating: "x", count: 1995)] {
            #expect(throws: PostgresError.self, "\(url.prefix(40))") {
                try db.query("update conveyor.teams set webhook_url = $2 where id = $1", [id, url])
            }
        }
        for secret in ["short", "0123456789abcdef\n"] {
            #expect(throws: PostgresError.self) {
                try db.query("update conveyor.teams set webhook_secret = $2 where id = $1", [id, secret])
            }
        }
        let error = #expect(throws: PostgresError.self) {
            try db.query("update conveyor.teams set webhook_url = 'ftp://x' where id = $1", [id])
        }
        #expect(error?.code == SQLState(rawValue: "23514"), "check_violation")
        #expect(try db.query("select webhook_url from conveyor.teams where id = $1", [id])[0]["webhook_url"].string() == "https://hooks.example.com/x")
    }
}
