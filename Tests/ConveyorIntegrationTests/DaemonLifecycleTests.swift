import ConveyorDaemon
import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `conveyord` as a process: signals, the socket's lifetime, the admin controls, reloading,
/// and how it refuses bad configuration or an unreachable database at start.
@Suite struct DaemonLifecycleTests {
    /// Daemons that stop here poll every 10 minutes: their idle workers are waiting for
    /// that poll, so an exit within `exitsWithin` was woken by the shutdown. The bound is
    /// wide on purpose: under the parallel suite a daemon can get no core for seconds.
    static let idle = ["CONVEYOR_POLL_INTERVAL": "600"]
    static let exitsWithin = Duration.seconds(30)

    // MARK: - Signals and the socket's lifetime

    @Test(arguments: [SIGTERM, SIGINT])
    func aShutdownSignalExitsZeroAndRemovesTheSocket(signal: Int32) throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), environment: Self.idle)
        defer { daemon.stop() }
        let client = try daemon.connect()
        #expect(try client.response("ping").isOK)
        daemon.signal(signal)
        let status = try daemon.waitForExit(timeout: Self.exitsWithin)
        #expect(status == 0, "exit status after signal \(signal); log:\n\(daemon.log)")
        #expect(!Files.exists(daemon.socketPath), "the socket file is removed")
        #expect(!Files.exists(daemon.socketPath + ".lock"), "the lock file is removed")
        #expect(daemon.logRecords.contains { $0["msg"] == "conveyord stopped" })
        // The open connection was closed, not left hanging.
        #expect(client.linesUntilClosed(timeout: .seconds(2)) != nil)
    }

    @Test func aSecondDaemonOnTheSameSocketRefusesToStart() throws {
        let database = try TestPostgres.makeDatabase()
        let first = try DaemonProcess(database: database)
        defer { first.stop() }
        let second = try DaemonProcess(database: database, socketPath: first.socketPath, waitUntilReady: false)
        defer { second.stop() }
        let status = try second.waitForExit(timeout: .seconds(30))
        #expect(status != 0)
        let output = second.log.split(whereSeparator: \.isNewline).map(String.init)
        let plain = output.filter { !$0.hasPrefix("{") }
        #expect(plain.count == 1, "one plain error line:\n\(second.log)")
        let line = plain.first ?? ""
        #expect(line.hasPrefix("conveyord: ") && line.contains(first.socketPath), "\(line)")
        #expect(!second.log.contains("Fatal error") && !second.log.contains("Stack dump"))
        // The first one is untouched and keeps serving.
        let socket = try #require(Files.mode(first.socketPath))
        #expect(socket.isSocket)
        #expect(first.isRunning)
        #expect(try first.connect().response("ping").isOK)
        #expect(try first.ctl(["ping"]).status == 0)
    }

    @Test func aStaleSocketLeftByKill9IsReplacedOnRestart() throws {
        let database = try TestPostgres.makeDatabase()
        let directory = try TemporaryDirectory.make("cvy-stale")
        defer { TemporaryDirectory.remove(directory) }
        let socket = directory + "/admin.sock"
        let crashed = try DaemonProcess(database: database, socketPath: socket)
        defer { crashed.stop() }
        crashed.kill9()
        #expect(try crashed.waitForExit() == 128 + SIGKILL)
        #expect(Files.mode(socket)?.isSocket == true, "kill -9 leaves the socket file behind")
        #expect(!AdminClient.canConnect(socket))

        let restarted = try DaemonProcess(database: database, socketPath: socket)
        defer { restarted.stop() }
        #expect(try restarted.connect().response("ping").isOK)
        restarted.signal(SIGTERM)
        #expect(try restarted.waitForExit() == 0)
        #expect(!Files.exists(socket))
    }

    @Test func aRegularFileAtTheSocketPathIsNeverReplaced() throws {
        let directory = try TemporaryDirectory.make("cvy-file")
        defer { TemporaryDirectory.remove(directory) }
        let socket = directory + "/admin.sock"
        try Files.write(socket, "precious\n")
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), socketPath: socket, waitUntilReady: false)
        defer { daemon.stop() }
        #expect(try daemon.waitForExit(timeout: .seconds(30)) != 0)
        #expect((try? String(contentsOfFile: socket, encoding: .utf8)) == "precious\n")
        let plain = daemon.log.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("{") }
        #expect(plain.count == 1 && plain.first?.hasPrefix("conveyord: ") == true, "\(daemon.log)")
    }

    // MARK: - Admin controls

    @Test func shutdownCommandAnswersThenExitsZero() throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), environment: Self.idle)
        defer { daemon.stop() }
        let client = try daemon.connect()
        let answer = try client.readLineAfterSending(#"{"id":"bye","cmd":"shutdown"}"#)
        #expect(answer.map { try? Response.parse(line: $0) } == .some(.ok(id: "bye", result: ["shutting_down": true])),
                "the shutdown request is answered before the connection closes: \(answer ?? "<closed>")")
        #expect(try daemon.waitForExit(timeout: Self.exitsWithin) == 0, "log:\n\(daemon.log)")
        #expect(!Files.exists(daemon.socketPath))
    }

    @Test func shutdownCommandStopsTheDaemonWithStatusZero() throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), environment: Self.idle)
        defer { daemon.stop() }
        let result = try daemon.ctl(["shutdown"])
        #expect([0, ErrorCode.unavailable.exitCode].contains(result.status), "\(result)")
        #expect(try daemon.waitForExit(timeout: Self.exitsWithin) == 0, "log:\n\(daemon.log)")
        #expect(!Files.exists(daemon.socketPath))
        #expect(daemon.logRecords.contains { $0["msg"] == "shutdown requested over the admin socket" })
    }

    @Test func drainAndResumeShowInStatus() throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase())
        defer { daemon.stop() }
        let client = try daemon.connect()
        #expect(try client.result("drain")["draining"] == true)
        #expect(try client.result("status")["workers"]?["draining"] == true)
        #expect(eventually { (try? client.result("status")["workers"]?["phases"]) == ["draining", "draining"] },
                "both workers report draining")
        #expect(try client.result("resume") == ["draining": false])
        #expect(try client.result("status")["workers"]?["draining"] == false)
        // Workers that resumed do not keep reporting `draining`.
        #expect(eventually { (try? client.result("status")["workers"]?["phases"]) == ["connected", "connected"] },
                "phases after resume: \(String(describing: try? client.result("status")["workers"]?["phases"]))")
    }

    @Test func logLevelChangesAtRunTimeAndRejectsUnknownLevels() throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase())
        defer { daemon.stop() }
        let client = try daemon.connect()
        #expect(try client.result("log.level", ["level": "debug"]) == ["level": "debug", "previous": "info"])
        #expect(try client.response("log.level level=loud").errorCode == .invalidArgument)
        #expect(try client.result("log.level", ["level": "WARNING"]) == ["level": "warning", "previous": "debug"])
        // The level filters the log: at error, SIGHUP's info line is not written; at info it is.
        #expect(try client.result("log.level", ["level": "error"])["previous"] == "warning")
        daemon.signal(SIGHUP)
        usleep(500_000)
        #expect(!daemon.logRecords.contains { $0["msg"] == "SIGHUP: reloading configuration" }, "\(daemon.log)")
        #expect(try client.result("log.level", ["level": "info"])["previous"] == "error")
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog(message: "SIGHUP: reloading configuration"), "\(daemon.log)")
    }

    // MARK: - Reloading

    @Test func sighupRereadsTheConfigFileAndLogsIt() throws {
        let directory = try TemporaryDirectory.make("cvy-hup")
        defer { TemporaryDirectory.remove(directory) }
        let config = directory + "/conveyor.conf"
        try Files.write(config, "# test\nlog_level = info\n")
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), configPath: config)
        defer { daemon.stop() }
        try Files.write(config, "# test\nlog_level = warning\n")
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog(message: "configuration reloaded"), "log:\n\(daemon.log)")
        // The new level is in force.
        let client = try daemon.connect()
        #expect(eventually { (try? client.result("log.level", ["level": "warning"]))?["previous"] == "warning" })
        #expect(daemon.isRunning, "SIGHUP does not stop the daemon")
    }

    @Test func configReloadReportsAppliedAndRestartRequired() throws {
        let directory = try TemporaryDirectory.make("cvy-reload")
        defer { TemporaryDirectory.remove(directory) }
        let config = directory + "/conveyor.conf"
        try Files.write(config, "log_level = info\nworkers = 2\n")
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), configPath: config)
        defer { daemon.stop() }
        let client = try daemon.connect()
        #expect(try client.result("config.reload") == ["applied": [], "restart_required": []])
        try Files.write(config, "log_level = debug\nworkers = 3\n")
        #expect(try client.result("config.reload") == ["applied": ["log_level"], "restart_required": ["workers"]])
        #expect(try client.result("log.level", ["level": "info"])["previous"] == "debug")

        // A broken file is refused and the running configuration kept.
        try Files.write(config, "log_level = error\nworkers = 3\ncolour = blue\n")
        let refused = try client.response("config.reload")
        #expect(!refused.isOK)
        if case .error(_, let error) = refused { #expect(error.message.contains("colour")) }
        #expect(try client.result("log.level", ["level": "info"])["previous"] == "info")
        #expect(daemon.isRunning)
    }

    /// The socket's limits apply to the next connection after a reload, and a
    /// broken file changes none of them (`conflict`, saying why).
    @Test func socketLimitsApplyOnReload() throws {
        let directory = try TemporaryDirectory.make("cvy-reload")
        defer { TemporaryDirectory.remove(directory) }
        let config = directory + "/conveyor.conf"
        try Files.write(config, "max_line_bytes = 4096\n")
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), configPath: config)
        defer { daemon.stop() }
        let long = #"{"cmd":"ping","args":{},"id":""# + String(repeating: "x", count: 500) + #""}"#
        #expect(try daemon.connect().response(long).isOK, "500 bytes fit in 4096")
        try Files.write(config, "max_line_bytes = 300\n")
        let held = try daemon.connect()
        #expect(try held.result("config.reload") == ["applied": ["max_line_bytes"], "restart_required": []])
        #expect(try daemon.connect().response(long).errorCode == .tooLarge, "the next connection has the new limit")

        try Files.write(config, "max_line_bytes = 4096\nmax_line_bytes = lots\n")
        let refused = try held.response(#"{"cmd":"config.reload"}"#)
        #expect(refused.errorCode == .conflict, "\(refused.encodedLine())")
        if case .error(_, let error) = refused {
            #expect(error.message.contains("conveyor.conf:2") && error.message.contains("the running configuration is kept"), "\(error.message)")
        }
        #expect(try daemon.connect().response(long).errorCode == .tooLarge, "still 300")
        #expect(daemon.log.contains("reload failed; keeping the running configuration"))
    }

    /// A setting that needs a restart is not in force after a reload: `status` keeps
    /// reporting what runs, and a second reload still says a restart is needed.
    @Test func settingsThatNeedARestartAreNotReportedAsInForce() throws {
        let directory = try TemporaryDirectory.make("cvy-reload")
        defer { TemporaryDirectory.remove(directory) }
        let config = directory + "/conveyor.conf"
        try Files.write(config, "workers = 2\n")
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), configPath: config)
        defer { daemon.stop() }
        let client = try daemon.connect()
        try Files.write(config, "workers = 3\n")
        #expect(try client.result("config.reload")["restart_required"] == ["workers"])
        let workers = try #require(try client.result("status")["workers"])
        #expect(workers["configured"] == 2, "two workers run: \(workers)")
        #expect(workers["phases"]?.arrayValue?.count == 2)
        #expect(try client.result("config.reload")["restart_required"] == ["workers"], "still not in force")
    }

    // MARK: - Start-up and configuration errors

    /// The one-line error contract: non-zero exit, exactly one stderr line starting with
    /// `conveyord:`, nothing on stdout, no crash output.
    private func expectOneLineFailure(
        _ result: CommandResult, mentioning needle: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status != 0, "\(result)", sourceLocation: sourceLocation)
        #expect(result.status < 128, "not killed by a signal: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "one stderr line: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("conveyord: "), "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasSuffix("\n"), sourceLocation: sourceLocation)
        #expect(result.stderr.utf8.count < 2_000, "a short line: \(result.stderr.utf8.count) bytes", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
        for crash in ["Fatal error", "Stack dump", "backtrace", "Current stack trace"] {
            #expect(!result.stderr.contains(crash), sourceLocation: sourceLocation)
        }
        if let needle {
            #expect(result.stderr.contains(needle), "mentions \(needle): \(result.stderr)", sourceLocation: sourceLocation)
        }
    }

    private func checkConfig(_ contents: [UInt8], environment: [String: String] = [:]) throws -> (CommandResult, String) {
        let directory = try TemporaryDirectory.make("cvy-conf")
        defer { TemporaryDirectory.remove(directory) }
        let path = directory + "/conveyor.conf"
        try Data(contents).write(to: URL(fileURLWithPath: path))
        return (try Conveyord.run(["check-config", "--config", path], environment: environment), path)
    }

    @Test func checkConfigAcceptsAGoodFile() throws {
        let (result, _) = try checkConfig(Array("""
            # comment
            database_url = "host=/nowhere dbname=x"
            workers = 4   # trailing comment
            log_level = NOTICE
            max_line_bytes = 1024

            """.utf8))
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasSuffix("\nconfiguration ok\n"), "\(result)")
        #expect(result.stderr.isEmpty)
        let listing = try configListing(result)
        #expect(listing["workers"]?.value == "4" && listing["workers"]?.source.hasSuffix("conveyor.conf:3") == true, "\(listing)")
        #expect(listing["log_level"]?.value == "notice", "read case-insensitively: \(listing)")
        #expect(listing["database_url"]?.value == "(redacted)", "the secret is never shown: \(result.stdout)")
        #expect(!result.stdout.contains("nowhere"))
        #expect(listing["poll_interval"]?.source == "default")
        #expect(listing["socket_group"]?.source == "unset: the daemon's group")
        #expect(result.stdout.contains("\nnetwork bounds: keepalives_idle=30 (default) keepalives_interval=10 (default) "
            + "keepalives_count=3 (default) tcp_user_timeout=60000 (default); a silent connection is cut after 60 s\n"), "\(result.stdout)")
        #expect(Set(listing.keys) == Set(DaemonConfig.keys), "every key is listed")
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try Conveyord.run(["check-config", "--config", packageRoot.appendingPathComponent("Config/conveyor.conf").path])
        #expect(example.status == 0, "the documented example is valid: \(example)")
    }

    @Test func checkConfigRejectsGarbageInOneLine() throws {
        var generator = SystemRandomNumberGenerator()
        let binary = (0..<4_096).map { _ in UInt8.random(in: 0...255, using: &generator) } + [0xFF, 0xFE]
        let (invalidUTF8, path) = try checkConfig(binary)
        expectOneLineFailure(invalidUTF8, mentioning: path)
        let (text, textPath) = try checkConfig(Array("hello world\nthis is not a config\n".utf8))
        expectOneLineFailure(text, mentioning: textPath + ":1")
        let (controls, _) = try checkConfig([0x00, 0x01, 0x02, 0x3D, 0x1B, 0x5B, 0x0A, 0x07])
        expectOneLineFailure(controls)
    }

    @Test func checkConfigRejectsUnknownKeysAndBadValues() throws {
        let (unknown, path) = try checkConfig(Array("workers = 2\ncolour = blue\n".utf8))
        expectOneLineFailure(unknown, mentioning: "colour")
        #expect(unknown.stderr.contains(path + ":2"))
        let (zero, _) = try checkConfig(Array("workers = 0\n".utf8))
        expectOneLineFailure(zero, mentioning: "workers")
        let (tooMany, _) = try checkConfig(Array("workers = 65\n".utf8))
        expectOneLineFailure(tooMany, mentioning: "workers")
        let (level, _) = try checkConfig(Array("log_level = loud\n".utf8))
        expectOneLineFailure(level, mentioning: "log_level")
        let (quote, _) = try checkConfig(Array("database_url = \"host=x\n".utf8))
        expectOneLineFailure(quote, mentioning: "database_url")
        let (keepalive, _) = try checkConfig(Array("database_url = \"host=x keepalives_idle=soon\"\n".utf8))
        expectOneLineFailure(keepalive, mentioning: "keepalives_idle=soon is not a whole number")
    }

    /// `key = value  # source` lines of `check-config`, by key.
    private func configListing(_ result: CommandResult) throws -> [String: (value: String, source: String)] {
        var listing: [String: (value: String, source: String)] = [:]
        for line in result.stdout.split(separator: "\n").dropLast() where !line.hasPrefix("network bounds: ") {
            let parts = line.components(separatedBy: "  # ")
            let assignment = try #require(parts.first?.components(separatedBy: " = "), "\(line)")
            try #require(parts.count == 2 && assignment.count == 2, "\(line)")
            listing[assignment[0]] = (assignment[1].trimmingCharacters(in: .whitespaces), parts[1])
        }
        return listing
    }

    @Test func checkConfigSaysWhereEachValueCameFrom() throws {
        let (result, path) = try checkConfig(Array("workers = 4\nlog_format = text\n".utf8), environment: [
            "CONVEYOR_WORKERS": "6", "CONVEYOR_ADMIN_SOCKET": "/tmp/with space/admin.sock",
        ])
        #expect(result.status == 0, "\(result)")
        let listing = try configListing(result)
        #expect(listing["workers"]?.value == "6" && listing["workers"]?.source == "CONVEYOR_WORKERS", "the environment wins: \(listing)")
        #expect(listing["log_format"]?.source == path + ":2")
        #expect(listing["admin_socket"]?.value == "\"/tmp/with space/admin.sock\"", "a value with a space is quoted: \(listing)")
    }

    @Test func environmentOverridesAreValidatedToo() throws {
        let result = try Conveyord.run(["check-config"], environment: ["CONVEYOR_WORKERS": "abc"])
        expectOneLineFailure(result, mentioning: "CONVEYOR_WORKERS")
        let format = try Conveyord.run(["check-config"], environment: ["CONVEYOR_LOG_FORMAT": "xml"])
        expectOneLineFailure(format, mentioning: "CONVEYOR_LOG_FORMAT")
        // The environment wins over the file.
        let (overridden, _) = try checkConfig(Array("workers = 0\n".utf8), environment: ["CONVEYOR_WORKERS": "3"])
        #expect(overridden.status != 0, "the file is still validated: \(overridden)")
        let (fine, _) = try checkConfig(Array("workers = 3\n".utf8), environment: ["CONVEYOR_WORKERS": "4"])
        #expect(fine.status == 0, "\(fine)")
    }

    /// Whatever a bad value holds, the error stays one line.
    @Test func aValueWithALineBreakStillGivesOneErrorLine() throws {
        let result = try Conveyord.run(["check-config"], environment: ["CONVEYOR_WORKERS": "abc\ndef"])
        expectOneLineFailure(result, mentioning: "CONVEYOR_WORKERS")
        let level = try Conveyord.run(["check-config"], environment: ["CONVEYOR_LOG_LEVEL": "loud\r\nconveyord: all is well"])
        expectOneLineFailure(level, mentioning: "CONVEYOR_LOG_LEVEL")
    }

    /// A config file saved with Windows line endings is read line by line like any other:
    /// its settings apply and its errors are found (not swallowed by a leading comment).
    @Test func aConfigFileWithCRLFLineEndingsIsReadLineByLine() throws {
        let (valid, _) = try checkConfig(Array("log_level = info\r\nworkers = 3\r\n".utf8))
        #expect(valid.status == 0, "\(valid)")
        #expect(valid.stderr.isEmpty, "\(valid)")
        let (invalid, path) = try checkConfig(Array("# edited on Windows\r\nworkers = 0\r\n".utf8))
        expectOneLineFailure(invalid, mentioning: path + ":2")

        let directory = try TemporaryDirectory.make("cvy-crlf")
        defer { TemporaryDirectory.remove(directory) }
        let config = directory + "/conveyor.conf"
        try Files.write(config, "# edited on Windows\r\nworkers = 3\r\n")
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), configPath: config)
        defer { daemon.stop() }
        let workers = try daemon.connect().result("status")["workers"]
        #expect(workers?["configured"] == 3, "workers = 3 applies: \(String(describing: workers))")
        #expect(workers?["phases"]?.arrayValue?.count == 3)
    }

    @Test func aOneMegabyteConfigLineGivesOneShortLine() throws {
        let (result, _) = try checkConfig(Array(("log_level = " + String(repeating: "x", count: 1 << 20) + "\n").utf8))
        expectOneLineFailure(result, mentioning: "log_level")
        let (key, _) = try checkConfig(Array((String(repeating: "k", count: 1 << 20) + " = 1\n").utf8))
        expectOneLineFailure(key)
    }

    @Test func aMissingConfigFileGivesOneLine() throws {
        let directory = try TemporaryDirectory.make("cvy-conf")
        defer { TemporaryDirectory.remove(directory) }
        let path = directory + "/missing.conf"
        expectOneLineFailure(try Conveyord.run(["check-config", "--config", path]), mentioning: path)
        expectOneLineFailure(try Conveyord.run(["run", "--config", path]), mentioning: path)
        let noPath = try Conveyord.run(["check-config", "--config"])
        #expect(noPath.status == 2)
        expectOneLineFailure(noPath)
    }

    @Test func anUnreachableDatabaseGivesOneLineForMigrateAndRun() throws {
        let directory = try TemporaryDirectory.make("cvy-nodb")
        defer { TemporaryDirectory.remove(directory) }
        let environment = [
            "CONVEYOR_DATABASE_URL": "host=\(directory)/no-such-dir dbname=conveyor user=conveyor connect_timeout=3",
            "CONVEYOR_ADMIN_SOCKET": directory + "/admin.sock",
            "CONVEYOR_LOG_FORMAT": "json",
        ]
        let migrate = try Conveyord.run(["migrate"], environment: environment, timeout: .seconds(20))
        expectOneLineFailure(migrate, mentioning: "PostgreSQL")
        let run = try Conveyord.run(["run"], environment: environment, timeout: .seconds(20))
        #expect(run.stderrPlainLines.count == 1, "\(run)")
        #expect(run.stderrPlainLines.first?.hasPrefix("conveyord: ") == true)
        #expect(run.stderr.contains("PostgreSQL"))
        #expect(run.status != 0 && run.status < 128, "\(run)")
        #expect(!Files.exists(directory + "/admin.sock"), "no socket left behind")
        // The default command is run.
        let bare = try Conveyord.run([], environment: environment, timeout: .seconds(20))
        #expect(bare.status != 0 && bare.stderr.contains("PostgreSQL"), "\(bare)")
    }

    /// A keepalive setting `NetworkBounds` refuses stops `run` with our line, before
    /// any connection (the database here does not exist, and libpq would say so first).
    @Test(arguments: ["keepalives_idle=0", "keepalives_count=soon"])
    func runRefusesABadKeepaliveSettingBeforeConnecting(setting: String) throws {
        let directory = try TemporaryDirectory.make("cvy-keepalive")
        defer { TemporaryDirectory.remove(directory) }
        let environment = [
            "CONVEYOR_DATABASE_URL": "host=\(directory)/no-such-dir dbname=conveyor connect_timeout=3 \(setting)",
            "CONVEYOR_ADMIN_SOCKET": directory + "/admin.sock",
        ]
        let run = try Conveyord.run(["run"], environment: environment, timeout: .seconds(20))
        expectOneLineFailure(run, mentioning: "database_url: \(setting) is not a whole number of at least")
        #expect(!Files.exists(directory + "/admin.sock"), "no socket left behind")
    }

    /// `run` never migrates: on a schema with migrations pending it refuses in one line
    /// saying to migrate, and on a schema newer than itself in one line saying to upgrade.
    @Test func runRefusesASchemaThatIsNotItsOwn() throws {
        let database = try TestPostgres.makeEmptyDatabase()
        let directory = try TemporaryDirectory.make("cvy-schema")
        defer { TemporaryDirectory.remove(directory) }
        let environment = ["CONVEYOR_DATABASE_URL": database, "CONVEYOR_ADMIN_SOCKET": directory + "/admin.sock"]
        let pending = try Conveyord.run(["run"], environment: environment)
        expectOneLineFailure(pending, mentioning: "run `conveyord migrate` first")
        #expect(pending.stderr.contains("migrations pending: 001_schema.sql"), "\(pending)")
        #expect(!Files.exists(directory + "/admin.sock"), "no socket left behind")
        let connection = try TestPostgres.connect(database)
        #expect(try connection.query("select to_regclass('conveyor.jobs') is null as absent")[0]["absent"].bool(), "nothing was migrated")

        #expect(try Conveyord.run(["migrate"], environment: environment).status == 0)
        let daemon = try DaemonProcess(database: database)
        daemon.stop()

        try connection.execute("insert into conveyor.schema_migrations (version, file, checksum) values (9999, '9999_later.sql', 'x')")
        let newer = try Conveyord.run(["run"], environment: environment)
        expectOneLineFailure(newer, mentioning: "upgrade conveyord")
        #expect(newer.stderr.contains("migration 9999"), "\(newer)")
        let migrate = try Conveyord.run(["migrate"], environment: environment)
        expectOneLineFailure(migrate, mentioning: "upgrade conveyord")
    }

    @Test func migrateIsIdempotent() throws {
        let database = try TestPostgres.makeDatabase()
        let result = try Conveyord.run(["migrate"], environment: ["CONVEYOR_DATABASE_URL": database])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "schema is up to date\n")
    }

    @Test func versionHelpAndUnknownArguments() throws {
        let version = try Conveyord.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == "conveyord \(ConveyorVersion.current)\n")
        let help = try Conveyord.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: conveyord"))
        for word in ["check-config", "migrate", "run", "--config"] { #expect(help.stdout.contains(word)) }
        let unknown = try Conveyord.run(["--frobnicate"])
        #expect(unknown.status == 2)
        expectOneLineFailure(unknown, mentioning: "--frobnicate")
        let command = try Conveyord.run(["launch"])
        #expect(command.status == 2)
        expectOneLineFailure(command, mentioning: "launch")
    }
}

extension AdminClient {
    /// Sends `line` and returns the next line, or nil when the daemon closes the connection instead.
    func readLineAfterSending(_ line: String) throws -> String? {
        _ = try writeRaw(Array((line + "\n").utf8))
        return try? readLine(timeout: .seconds(30))
    }
}
