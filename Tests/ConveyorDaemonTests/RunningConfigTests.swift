@testable import ConveyorDaemon
import Testing

/// What a reload puts in force: the keys that apply at once take the new
/// values, the others keep the start values and are reported.
@Suite struct RunningConfigTests {
    private func config(_ text: String) throws -> DaemonConfig {
        var config = DaemonConfig()
        for (_, key, value) in try DaemonConfig.parse(text, path: "c.conf") {
            #expect(try #require(DaemonConfig.key(named: key)).assign(&config, value), "\(key) = \(value)")
        }
        return config
    }

    @Test func liveKeysApplyAndTheOthersWaitForARestart() throws {
        let running = RunningConfig(try config("workers = 2\nmax_line_bytes = 4096\n"))
        let fresh = try config("""
            workers = 3
            max_line_bytes = 300
            max_connections = 5
            operator_groups = ops,sales
            operator_teams = rail-ops:rail+sea
            log_format = text
            line_timeout = 2.5
            database_url = host=elsewhere
            """)
        let outcome = running.reload(fresh)
        #expect(outcome.applied == ["operator_groups", "operator_teams", "log_format", "max_line_bytes", "max_connections", "line_timeout"])
        #expect(outcome.restartRequired == ["database_url", "workers"])
        let now = running.current
        #expect(now.maxLineBytes == 300 && now.maxConnections == 5 && now.lineTimeout == 2.5)
        #expect(now.operatorGroups == ["ops", "sales"] && now.operatorTeams == ["rail-ops": ["rail", "sea"]])
        #expect(now.logFormat == .text)
        #expect(now.workers == 2 && now.databaseURL == nil, "restart keys keep what runs")
        // The same sources again: nothing new applies, the restart is still needed.
        #expect(running.reload(fresh) == .init(applied: [], restartRequired: ["database_url", "workers"]))
        // Back to the start: a live key returns to its default.
        #expect(running.reload(try config("workers = 2\nmax_line_bytes = 4096\n")).restartRequired.isEmpty)
        #expect(running.current == running.started)
    }
}
