import ConveyorDaemon
import Foundation
import Logging
import Metrics
import Prometheus

// conveyord: the daemon's entry point. Parses the command line, loads the
// config, bootstraps logging and metrics (only executables do), and runs.

let usage = """
    usage: conveyord [run|migrate|check-config] [--config PATH]
           conveyord --version | --help

      run            run in the foreground (default): workers, housekeeping and
                     the admin socket; SIGTERM drains and exits 0, SIGHUP reloads
      migrate        apply pending SQL migrations and exit (safe to run concurrently)
      check-config   validate the configuration and exit

    Settings come from --config PATH (key = value lines, see Config/conveyor.conf),
    overridden by CONVEYOR_* environment variables such as CONVEYOR_DATABASE_URL,
    CONVEYOR_ADMIN_SOCKET, CONVEYOR_WORKERS, CONVEYOR_LOG_LEVEL, CONVEYOR_LOG_FORMAT.
    """

/// One line on stderr, whatever the message holds, and a non-zero exit.
func fail(_ message: String, code: Int32 = 1) -> Never {
    let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    FileHandle.standardError.write(Data("conveyord: \(line)\n".utf8))
    exit(code)
}

var command = "run"
var configPath: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--help", "-h":
        print(usage)
        exit(0)
    case "--version":
        print("conveyord \(ConveyorVersion.current)")
        exit(0)
    case "--config":
        guard let path = arguments.popFirst() else { fail("--config needs a path", code: 2) }
        configPath = path
    case "run", "migrate", "check-config":
        command = argument
    default:
        fail("unknown argument \(String(argument.prefix(100)).debugDescription); see conveyord --help", code: 2)
    }
}

let environment = ProcessInfo.processInfo.environment
let config: DaemonConfig
do {
    config = try DaemonConfig.load(path: configPath, environment: environment)
} catch {
    fail("bad configuration: \(error)")
}

let logLevel = LogLevelControl(config.logLevel)
let json = (config.logFormat ?? (isatty(STDERR_FILENO) == 1 ? .text : .json)) == .json
LoggingSystem.bootstrap { label in ConveyorLogHandler(label: label, json: json, control: logLevel) }
let registry = PrometheusCollectorRegistry()
MetricsSystem.bootstrap(Daemon.metricsFactory(registry))
let logger = Logger(label: "conveyord")

switch command {
case "check-config":
    print("configuration ok")
case "migrate":
    do {
        let applied = try Daemon.migrate(conninfo: config.databaseURL)
        print(applied.isEmpty ? "schema is up to date" : "applied \(applied.map(\.file).joined(separator: ", "))")
    } catch {
        fail("\(error)")
    }
default:
    // SIGHUP's default action would end the daemon if it came before the
    // signal service takes over (the socket accepts early); until then a
    // reload has nothing to do.
    signal(SIGHUP, SIG_IGN)
    let daemon = Daemon(
        config: config, configPath: configPath, environment: environment, logger: logger,
        logLevel: logLevel, metrics: registry
    )
    do {
        try await daemon.run()
    } catch {
        fail("\(error)")
    }
}
