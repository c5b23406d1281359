import Foundation

/// A real conveyord started for a scenario, on a temporary socket.
final class BenchDaemon {
    let process = Process()
    let directory: String
    /// Where conveyord (and conveyorctl) are.
    let binDirectory: String

    /// `environment`: more `CONVEYOR_*` settings for this daemon.
    init(conninfo: String, workers: Int, batchSize: Int, environment settings: [String: String] = [:]) throws {
        binDirectory = ProcessInfo.processInfo.environment["CONVEYOR_BIN_DIR"]
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let binary = binDirectory + "/conveyord"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("conveyord not found at \(binary); build it or set CONVEYOR_BIN_DIR")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run"]
        var environment = ProcessInfo.processInfo.environment
        environment["CONVEYOR_DATABASE_URL"] = conninfo
        environment["CONVEYOR_ADMIN_SOCKET"] = directory + "/admin.sock"
        environment["CONVEYOR_WORKERS"] = String(workers)
        environment["CONVEYOR_BATCH_SIZE"] = String(batchSize)
        environment["CONVEYOR_LOG_LEVEL"] = "warning"
        environment.merge(settings) { $1 }
        process.environment = environment
        _ = FileManager.default.createFile(atPath: directory + "/conveyord.log", contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/conveyord.log"))
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: directory + "/admin.sock") {
            guard process.isRunning, Date() < deadline else {
                throw BenchError("conveyord did not start; see \(directory)/conveyord.log")
            }
            usleep(20_000)
        }
    }

    /// Starts `conveyorctl --json ARGUMENTS` on the daemon's socket; its
    /// answer is on the returned pipe. `finished` runs when it exits.
    func conveyorctl(_ arguments: [String], finished: @escaping @Sendable () -> Void) throws -> (Process, Pipe) {
        let binary = binDirectory + "/conveyorctl"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("conveyorctl not found at \(binary); build it or set CONVEYOR_BIN_DIR")
        }
        let ctl = Process(), output = Pipe()
        ctl.executableURL = URL(fileURLWithPath: binary)
        ctl.arguments = ["--socket", directory + "/admin.sock", "--json"] + arguments
        ctl.standardOutput = output
        ctl.terminationHandler = { _ in finished() }
        try ctl.run()
        return (ctl, output)
    }

    /// Resident set size in bytes, from /proc.
    var residentBytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }

    /// User plus system CPU time the daemon has used so far, from /proc.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let afterName = stat.range(of: ") ")
        else { return 0 }
        // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGTERM, wait for a graceful exit, remove the temporary folder.
    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
