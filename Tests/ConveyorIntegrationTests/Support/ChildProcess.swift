import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Spawns and waits for child processes with posix_spawn/waitpid directly
/// (Foundation's `Process` can miss a child's exit when many run at once).
enum ChildProcess {
    /// Starts `argv` with stdout and stderr appended to `outputPath`
    /// (or inherited when nil) and optional extra environment; returns its pid.
    static func spawn(_ argv: [String], outputPath: String?, environment: [String: String] = [:]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let outputPath {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        let environmentStrings = merged.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings(argv) { arguments in
            withCStrings(environmentStrings) { environment in
                posix_spawn(&pid, argv[0], &actions, nil, arguments, environment)
            }
        }
        guard status == 0 else {
            throw TestSetupError("cannot start \(argv[0]): \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Waits for a child; returns its exit status, or 128 + signal when killed.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Runs to completion; returns the exit status.
    static func run(_ argv: [String], outputPath: String?, environment: [String: String] = [:]) throws -> Int32 {
        wait(try spawn(argv, outputPath: outputPath, environment: environment))
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
