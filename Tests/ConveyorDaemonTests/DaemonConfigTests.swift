import Foundation
import Logging
import Testing

@testable import ConveyorDaemon

/// `DaemonConfig`'s reader without a process: the file format, every key's values and
/// limits, the environment's overrides, and one clear line for each mistake.
@Suite struct DaemonConfigTests {
    /// The error `body` throws, as the one line `conveyord` prints.
    private func failure(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Runs `body` with the path of a fresh file holding `bytes`.
    private func withFile<T>(_ bytes: [UInt8], _ body: (String) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cvy-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("conveyor.conf").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try body(path)
    }

    /// Loads `text` as a config file, with `environment`.
    private func load(_ text: String, environment: [String: String] = [:]) throws -> DaemonConfig {
        try withFile(Array(text.utf8)) { try DaemonConfig.load(path: $0, environment: environment) }
    }

    /// Why loading `text` fails, the file's path shown as `c.conf`.
    private func loadError(_ text: String, environment: [String: String] = [:]) -> String? {
        try? withFile(Array(text.utf8)) { path in
            failure { try DaemonConfig.load(path: path, environment: environment) }?
                .replacingOccurrences(of: path, with: "c.conf")
        }
    }

    // MARK: - The format

    @Test func commentsBlankLinesSpacesAndQuotes() throws {
        let entries = try DaemonConfig.parse(
            """
            # a comment
               # an indented comment

            workers=3
              batch_size   =   50   # trailing comment
            database_url = "host=/tmp dbname=x # not a comment"
            ADMIN_SOCKET = /tmp/a.sock
            socket_group = ""
            """, path: "c.conf")
        #expect(entries.map(\.0) == [4, 5, 6, 7, 8])
        #expect(entries.map(\.1) == ["workers", "batch_size", "database_url", "admin_socket", "socket_group"])
        #expect(entries.map(\.2) == ["3", "50", "host=/tmp dbname=x # not a comment", "/tmp/a.sock", ""])
    }

    @Test func anyLineBreakEndsALineAndCountsOnce() throws {
        let entries = try DaemonConfig.parse("# edited on Windows\r\nworkers = 3\r\n\r\nbatch_size = 7\rlog_level = info\n", path: "c.conf")
        #expect(entries.map(\.0) == [2, 4, 5])
        #expect(entries.map(\.2) == ["3", "7", "info"])
        #expect(loadError("# edited on Windows\r\nworkers = 0\r\n")?.hasPrefix("c.conf:2: workers must be") == true)
    }

    @Test func malformedLinesNameFileAndLine() {
        #expect(loadError("workers = 2\nhello world\n") == #"c.conf:2: expected key = value, got "hello world""#)
        #expect(loadError("database_url = \"host=x\n") == "c.conf:1: unterminated quoted value for database_url")
        #expect(loadError("database_url = \"\n") == "c.conf:1: unterminated quoted value for database_url")
        #expect(loadError("= 3\n") == #"c.conf:1: bad key """#)
        #expect(loadError("max lines = 3\n") == #"c.conf:1: bad key "max lines""#)
        #expect(loadError("worker2 = 3\n") == #"c.conf:1: bad key "worker2""#)
    }

    @Test func anUnknownKeyListsTheKnownOnes() {
        #expect(loadError("workers = 2\ncolour = blue\n") == """
            c.conf:2: unknown key "colour" (known: database_url, admin_socket, socket_group, operator_groups, \
            operator_teams, workers, log_level, log_format, admin_db_connections, admin_statement_timeout, batch_size, poll_interval, job_retention, scan_check_interval, \
            webhook_timeout, metrics_textfile, metrics_textfile_interval, max_line_bytes, max_connections, max_streams, idle_timeout, \
            line_timeout)
            """)
    }

    @Test func aMissingFileIsOneLineNamingIt() {
        let path = "/nonexistent-\(UUID().uuidString)/conveyor.conf"
        let message = failure { try DaemonConfig.load(path: path, environment: [:]) }
        #expect(message?.hasPrefix("cannot read config file \(path): ") == true, "\(message ?? "no error")")
        #expect(message.map(isOneLine) == true)
    }

    @Test func invalidUTF8IsRefused() throws {
        try withFile([0x77, 0x3D, 0xFF, 0xFE, 0x0A]) { path in
            let message = failure { try DaemonConfig.load(path: path, environment: [:]) }
            #expect(message?.hasPrefix("cannot read config file \(path): ") == true, "\(message ?? "no error")")
        }
    }

    @Test func invalidUTF8NamesItsLine() throws {
        try withFile(Array("workers = 2\r\n# caf\u{E9}\nw = ".utf8) + [0xC3, 0x28, 0x0A]) { path in
            let message = failure { try DaemonConfig.load(path: path, environment: [:]) }
            #expect(message == "cannot read config file \(path): line 3 is not UTF-8")
        }
    }

    /// Foundation's `String(contentsOfFile:)` leaked 4 KiB at each read of an empty file (found by
    /// `scripts/fuzz`): 25,000 loads leaked 100 MB. Measured in a process of its own, where
    /// nothing else runs.
    @Test func loadingAnEmptyFileLeaksNothing() async {
        await #expect(processExitsWith: .success) {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("cvy-empty-\(getpid()).conf").path
            FileManager.default.createFile(atPath: path, contents: Data())
            defer { try? FileManager.default.removeItem(atPath: path) }
            func residentBytes() throws -> Int {
                let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
                return Int(statm[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
            }
            _ = try DaemonConfig.load(path: path, environment: [:])
            let before = try residentBytes()
            for _ in 0..<25_000 { _ = try DaemonConfig.load(path: path, environment: [:]) }
            let grown = try residentBytes() - before
            if grown > 25 << 20 { fatalError("25,000 loads of an empty file grew the memory by \(grown >> 20) MiB") }
        }
    }

    // MARK: - Values

    @Test func defaultsWithoutFileOrEnvironment() throws {
        let config = try DaemonConfig.load(path: nil, environment: [:])
        #expect(config == DaemonConfig())
        #expect(config.databaseURL == nil && config.socketGroup == nil && config.logFormat == nil)
        #expect(config.adminSocket == "/run/conveyor/admin.sock")
        #expect(config.operatorGroups.isEmpty)
        #expect((config.workers, config.batchSize, config.maxLineBytes, config.maxConnections) == (2, 1000, 65536, 64))
        #expect((config.pollInterval, config.jobRetention, config.idleTimeout, config.scanCheckInterval) == (10, 604_800, 60, 30))
        #expect(config.webhookTimeout == 10)
        #expect(config.logLevel == .info)
    }

    @Test func everyKeyIsStored() throws {
        let config = try load(
            """
            database_url = "host=db1,db2 target_session_attrs=read-write"
            admin_socket = ./admin.sock
            socket_group = conveyor-admins
            operator_groups = " sales-ops, ,ops "
            workers = 64
            log_level = NOTICE
            log_format = JSON
            batch_size = 1
            poll_interval = 0.5
            job_retention = 0
            scan_check_interval = 0.05
            webhook_timeout = 0.1
            max_line_bytes = 256
            max_connections = 10000
            idle_timeout = 86400
            """)
        #expect(config.databaseURL == "host=db1,db2 target_session_attrs=read-write")
        #expect(config.adminSocket == "./admin.sock")
        #expect(config.socketGroup == "conveyor-admins")
        #expect(config.operatorGroups == ["sales-ops", "ops"])
        #expect((config.workers, config.batchSize, config.maxLineBytes, config.maxConnections) == (64, 1, 256, 10_000))
        #expect(config.logLevel == .notice && config.logFormat == .json)
        #expect((config.pollInterval, config.jobRetention, config.idleTimeout, config.scanCheckInterval) == (0.5, 0, 86_400, 0.05))
        #expect(config.webhookTimeout == 0.1)
    }

    @Test func emptyTextsMeanUnset() throws {
        let config = try load("database_url =\nsocket_group = \"\"\noperator_groups =\n")
        #expect(config.databaseURL == nil && config.socketGroup == nil && config.operatorGroups.isEmpty)
    }

    @Test func operatorTeamsMapGroupsToTheirTeams() throws {
        let config = try load("operator_teams = rail-ops:china-rail+warsaw hub , sea-ops:sea, rail-ops:air\n")
        #expect(config.operatorTeams == ["rail-ops": ["china-rail", "warsaw hub", "air"], "sea-ops": ["sea"]])
        #expect(config.value(of: "operator_teams") == "rail-ops:air+china-rail+warsaw hub,sea-ops:sea")
        #expect(try load("operator_teams =\n").operatorTeams.isEmpty)
        let accepts = "comma-separated `group:team` items, several teams joined by `+` (`rail-ops:rail+rail-east`)"
        for bad in ["rail-ops", ":rail", "rail-ops:", "rail-ops:rail+", "rail-ops:+rail", "a:b,c"] {
            #expect(loadError("operator_teams = \(bad)\n") == "c.conf:1: operator_teams must be \(accepts), got \"\(bad)\"", "\(bad)")
        }
    }

    @Test(arguments: [
        ("workers = 0", #"c.conf:1: workers must be an integer from 1 to 64, got "0""#),
        ("workers = 65", #"c.conf:1: workers must be an integer from 1 to 64, got "65""#),
        ("workers = 2.5", #"c.conf:1: workers must be an integer from 1 to 64, got "2.5""#),
        ("batch_size = 10001", #"c.conf:1: batch_size must be an integer from 1 to 10000, got "10001""#),
        ("max_line_bytes = 255", #"c.conf:1: max_line_bytes must be an integer from 256 to 16777216, got "255""#),
        ("max_connections = 0", #"c.conf:1: max_connections must be an integer from 1 to 10000, got "0""#),
        ("poll_interval = 0", #"c.conf:1: poll_interval must be a number of seconds from 0.01 to 3600.0, got "0""#),
        ("poll_interval = nan", #"c.conf:1: poll_interval must be a number of seconds from 0.01 to 3600.0, got "nan""#),
        ("job_retention = inf", #"c.conf:1: job_retention must be a number of seconds from 0.0 to 31536000.0, got "inf""#),
        ("job_retention = -1", #"c.conf:1: job_retention must be a number of seconds from 0.0 to 31536000.0, got "-1""#),
        ("scan_check_interval = 0.01", #"c.conf:1: scan_check_interval must be a number of seconds from 0.05 to 3600.0, got "0.01""#),
        ("webhook_timeout = 301", #"c.conf:1: webhook_timeout must be a number of seconds from 0.1 to 300.0, got "301""#),
        ("idle_timeout = 0.05", #"c.conf:1: idle_timeout must be a number of seconds from 0.1 to 86400.0, got "0.05""#),
        ("log_level = loud", #"c.conf:1: log_level must be one of trace, debug, info, notice, warning, error, critical, got "loud""#),
        ("log_format = xml", #"c.conf:1: log_format must be json or text, got "xml""#),
        ("metrics_textfile = conveyor.prom", #"c.conf:1: metrics_textfile must be an absolute path ending in `.prom`, got "conveyor.prom""#),
        ("metrics_textfile = /var/lib/conveyor.txt", #"c.conf:1: metrics_textfile must be an absolute path ending in `.prom`, got "/var/lib/conveyor.txt""#),
        ("metrics_textfile_interval = 0.5", #"c.conf:1: metrics_textfile_interval must be a number of seconds from 1.0 to 3600.0, got "0.5""#),
        ("admin_socket = admin.sock", #"c.conf:1: admin_socket must be an absolute path shorter than 108 bytes, got "admin.sock""#),
    ])
    func aBadValueIsOneLineSayingWhatIsExpected(line: String, message: String) {
        #expect(loadError(line + "\n") == message)
    }

    @Test func aSocketPathMustFitSunPath() throws {
        let fits = "/" + String(repeating: "s", count: 106)
        #expect(try load("admin_socket = \(fits)\n").adminSocket == fits)
        #expect(loadError("admin_socket = \(fits)x\n")?.contains("shorter than 108 bytes") == true)
    }

    @Test func aHugeValueGivesAShortLine() throws {
        let message = try #require(loadError("log_level = " + String(repeating: "x", count: 1 << 20) + "\n"))
        #expect(message.utf8.count < 300)
        #expect(message.hasSuffix("…"))
    }

    // MARK: - The environment

    @Test func theEnvironmentOverridesTheFile() throws {
        let config = try load("workers = 3\nlog_level = info\n", environment: [
            "CONVEYOR_WORKERS": "4", "CONVEYOR_DATABASE_URL": "dbname=y", "CONVEYOR_UNKNOWN": "ignored",
            "conveyor_log_level": "debug",
        ])
        #expect(config.workers == 4)
        #expect(config.databaseURL == "dbname=y")
        #expect(config.logLevel == .info, "variables are upper case")
        let withoutFile = try DaemonConfig.load(path: nil, environment: ["CONVEYOR_IDLE_TIMEOUT": "1.5"])
        #expect(withoutFile.idleTimeout == 1.5)
    }

    @Test func theFileIsValidatedEvenWhenTheEnvironmentOverridesIt() {
        #expect(loadError("workers = 0\n", environment: ["CONVEYOR_WORKERS": "3"])?.hasPrefix("c.conf:1: workers") == true)
    }

    @Test func aBadEnvironmentValueNamesTheVariableOnOneLine() {
        let message = failure { try DaemonConfig.load(path: nil, environment: ["CONVEYOR_WORKERS": "abc\ndef"]) }
        #expect(message == #"CONVEYOR_WORKERS: workers must be an integer from 1 to 64, got "abc\ndef""#)
        let level = failure { try DaemonConfig.load(path: nil, environment: ["CONVEYOR_LOG_LEVEL": "loud\r\nconveyord: ok"]) }
        #expect(level.map(isOneLine) == true)
        #expect(level?.hasPrefix("CONVEYOR_LOG_LEVEL: log_level must be one of") == true)
    }

    // MARK: - The key table

    @Test func everyKeyOnceInTheDocumentedOrder() {
        #expect(DaemonConfig.keys == [
            "database_url", "admin_socket", "socket_group", "operator_groups", "operator_teams", "workers", "log_level", "log_format",
            "admin_db_connections", "admin_statement_timeout", "batch_size", "poll_interval", "job_retention", "scan_check_interval", "webhook_timeout",
            "metrics_textfile", "metrics_textfile_interval", "max_line_bytes",
            "max_connections", "max_streams", "idle_timeout", "line_timeout",
        ])
        for key in DaemonConfig.table {
            #expect(key.environmentVariable == "CONVEYOR_" + key.name.uppercased())
            #expect(!key.summary.isEmpty && !key.accepts.isEmpty, "\(key.name)")
        }
    }

    /// Every key's default, written back through the key, gives the default again, so the
    /// table's reading and storing agree.
    @Test func everyDefaultReadsBackAsItself() {
        let defaults = DaemonConfig()
        for key in DaemonConfig.table {
            let text = key.read(defaults)
            var config = defaults
            if text.isEmpty {
                #expect(key.unset != nil, "\(key.name) says what unset means")
            } else {
                #expect(key.assign(&config, text), "\(key.name) = \(text)")
                #expect(config == defaults, "\(key.name)")
            }
        }
    }

    @Test func valueOfReportsWhatAReloadCompares() throws {
        let config = try load("workers = 5\noperator_groups = a,b\ndatabase_url = dbname=x\n")
        #expect(config.value(of: "workers") == "5")
        #expect(config.value(of: "operator_groups") == "a,b")
        #expect(config.value(of: "database_url") == "dbname=x")
        #expect(config.value(of: "poll_interval") == "10.0")
        #expect(config.value(of: "log_format") == "")
        #expect(config.value(of: "no_such_key") == "")
    }

    /// Logging, the socket's limits and the operator groups apply on reload; where the
    /// daemon connects, listens and how many workers it runs need a restart.
    @Test func whatAppliesOnReload() {
        #expect(DaemonConfig.table.filter { $0.reload == .applies }.map(\.name) == [
            "operator_groups", "operator_teams", "log_level", "log_format", "max_line_bytes", "max_connections", "max_streams",
            "line_timeout",
        ])
    }

    @Test func theDatabaseURLIsASecretNeverShown() throws {
        #expect(DaemonConfig.table.filter(\.secret).map(\.name) == ["database_url"])
        let config = try load("database_url = \"host=db user=conveyor password=hunter2\"\nworkers = 3\n")
        let text = "\(config)"
        #expect(!text.contains("hunter2"))
        #expect(text.contains("database_url=(redacted)"))
        #expect(text.contains(#"workers="3""#))
        #expect("\(DaemonConfig())".contains(#"database_url="""#), "an unset secret shows as empty")
    }
}

/// Whether `text` holds no line break.
func isOneLine(_ text: String) -> Bool {
    !text.contains(where: \.isNewline)
}
