import ArgumentParser
import ConveyorDaemon
import Foundation
import Logging
import Metrics
import Prometheus

// conveyord: the daemon's entry point. Parses the command line
// (swift-argument-parser: help, completion and man page come with it), loads
// the config, bootstraps logging and metrics (only executables do), and runs.

/// One line on stderr, whatever the message holds (an error's priority first when
/// stderr is the journal), and a non-zero exit.
func fail(_ message: String, code: Int32 = 1) -> Never {
    let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    let journal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"].map(LogControl.isStandardError) ?? false
    FileHandle.standardError.write(Data("\(journal ? "<3>" : "")conveyord: \(line)\n".utf8))
    exit(code)
}

struct Conveyord: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conveyord",
        abstract: "The conveyor daemon: hands won clients to account managers, scans for attachment risk, serves the admin socket.",
        discussion: """
            Settings come from --config PATH (key = value lines; docs/config.md lists every key), \
            overridden by CONVEYOR_* environment variables such as CONVEYOR_DATABASE_URL, \
            CONVEYOR_ADMIN_SOCKET, CONVEYOR_WORKERS, CONVEYOR_LOG_LEVEL and CONVEYOR_LOG_FORMAT.
            """,
        version: "conveyord \(ConveyorVersion.current)",
        subcommands: [Run.self, Migrate.self, CheckConfig.self],
        defaultSubcommand: Run.self
    )
}

/// `--config PATH`, which every subcommand takes.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The config file (key = value lines).", completion: .file())
    var config: String?

    /// The configuration from the file and the environment; one line and exit 1 when it is bad.
    func load() -> (config: DaemonConfig, sources: [String: String]) {
        do {
            return try DaemonConfig.loadWithSources(path: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            fail("bad configuration: \(error)")
        }
    }
}

extension Conveyord {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run in the foreground: workers, housekeeping, nightly scans and the admin socket.",
            discussion: """
                Refuses to start on a schema with pending migrations (run `conveyord migrate`) or a newer one, \
                and through a pooler that does not keep sessions (PgBouncer needs pool_mode=session). \
                SIGTERM drains and exits 0; SIGHUP rereads the config. Under systemd (Type=notify) it reports \
                READY, STATUS, RELOADING, STOPPING and WATCHDOG.
                """
        )
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let (config, _) = options.load()
            let environment = ProcessInfo.processInfo.environment
            let logControl = LogControl(level: config.logLevel, format: config.logFormat, environment: environment)
            LoggingSystem.bootstrap { label in ConveyorLogHandler(label: label, control: logControl) }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(Daemon.metricsFactory(registry))
            // SIGHUP's default action would end the daemon if it came before the
            // signal service takes over (the socket accepts early); until then a
            // reload has nothing to do.
            signal(SIGHUP, SIG_IGN)
            let daemon = Daemon(
                config: config, configPath: options.config, environment: environment,
                logger: Logger(label: "conveyord"), logControl: logControl, metrics: registry
            )
            do {
                try await daemon.run()
            } catch {
                fail("\(error)")
            }
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending SQL migrations and exit (under an advisory lock: safe from several hosts at once)."
        )
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let (config, _) = options.load()
            do {
                let applied = try Daemon.migrate(conninfo: config.databaseURL)
                print(applied.isEmpty ? "schema is up to date" : "applied \(applied.map(\.file).joined(separator: ", "))")
            } catch {
                fail("\(error)")
            }
        }
    }

    struct CheckConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Validate the configuration and print every key's effective value and where it came from.",
            discussion: "Secrets (database_url) are shown as (redacted). Exits 1 with one line when the configuration is bad."
        )
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let (config, sources) = options.load()
            let bounds: String
            do {
                bounds = try Daemon.networkBounds(conninfo: config.databaseURL)
            } catch {
                fail("\(error)")
            }
            print(config.listing(sources: sources))
            print(bounds)
            print("configuration ok")
        }
    }
}

// Usage errors are one line and exit 2, like every other failure of ours;
// help and version go through the library.
do {
    var command = try Conveyord.parseAsRoot()
    if let run = command as? Conveyord.Run {
        try await run.run()
    } else {
        try command.run()
    }
} catch {
    if Conveyord.exitCode(for: error) == .success || error is CleanExit {
        Conveyord.exit(withError: error)
    }
    fail("\(Conveyord.message(for: error)); see conveyord --help", code: 2)
}
