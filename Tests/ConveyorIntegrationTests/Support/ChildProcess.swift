import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Child processes of the tests (PostgreSQL's tools, conveyord, conveyorctl):
// posix_spawn and waitpid directly, stdout and stderr captured in files, every
// wait bounded. Nothing uses Foundation.Process (it can miss a child's exit
// when many run at once).

// MARK: - Temporary directories

enum TemporaryDirectory {
    /// A new, empty directory with a short path (socket paths must stay under 108 bytes), mode 0700.
    static func make(_ prefix: String = "cvy") throws -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestSetupError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        return String(cString: created)
    }

    static func remove(_ path: String) {
        guard ProcessInfo.processInfo.environment["CONVEYOR_KEEP_TEST_DIRS"] == nil else { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}

// MARK: - Running commands

/// What a finished command did.
struct CommandResult: CustomStringConvertible {
    /// Exit status, or 128 + signal when killed.
    var status: Int32
    var stdout: String
    var stderr: String

    /// The non-empty lines of stderr (split at any line break: LF, CR, CRLF, U+2028…).
    var stderrLines: [String] {
        stderr.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline).map(String.init)
    }

    /// The stderr lines that are not JSON log records (the daemon logs JSON to stderr).
    var stderrPlainLines: [String] {
        stderrLines.filter { !$0.hasPrefix("{") }
    }

    var description: String { "status \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Children the tests start: posix_spawn with a clean environment and bounded waits.
enum Spawn {
    /// The environment children get: ours without any `CONVEYOR_*` setting or systemd
    /// hand-over variables (so a developer's shell cannot change what a test sees), plus `extra`.
    static func environment(_ extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("CONVEYOR_") && !["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"].contains(key)
        }
        environment.merge(extra) { _, new in new }
        return environment
    }

    /// Starts `argv` (argv[0] an absolute path) with stdin from /dev/null, stdout and stderr
    /// to the given files (the same path for both is fine: both append), default signal
    /// handling and an empty signal mask.
    static func start(_ argv: [String], stdout: String, stderr: String, environment extra: [String: String] = [:]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if stderr == stdout {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let environmentStrings = environment(extra).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings(argv) { arguments in
            withCStrings(environmentStrings) { environment in
                posix_spawn(&pid, argv[0], &actions, &attributes, arguments, environment)
            }
        }
        guard status == 0 else {
            throw TestSetupError("cannot start \(argv[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// The exit status if `pid` has exited (reaping it), else nil. 128 + signal when killed.
    static func poll(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, WNOHANG) } while result == -1 && errno == EINTR
        guard result == pid else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Waits at most `timeout` for `pid` to exit; nil if it is still running.
    static func wait(_ pid: pid_t, timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = poll(pid) { return status }
            if ContinuousClock.now >= deadline { return nil }
            usleep(10_000)
        }
    }

    /// Runs `argv` to completion (killed after `timeout`), capturing stdout and stderr.
    static func run(_ argv: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)) throws -> CommandResult {
        let directory = try TemporaryDirectory.make("cvy-run")
        defer { TemporaryDirectory.remove(directory) }
        // Let any user write the output (for `runuser -u nobody`, the files are opened by
        // us before the exec, but keep the directory usable either way).
        chmod(directory, 0o755)
        let out = directory + "/stdout", err = directory + "/stderr"
        let pid = try start(argv, stdout: out, stderr: err, environment: environment)
        guard let status = wait(pid, timeout: timeout) else {
            kill(pid, SIGKILL)
            _ = wait(pid, timeout: .seconds(5))
            throw TestSetupError("\(argv.joined(separator: " ")) did not finish within \(timeout)")
        }
        return CommandResult(
            status: status,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
