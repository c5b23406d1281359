import ConveyorProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Black-box support for tests that run the real executables: finding the built
// `conveyord` and `conveyorctl`, running them to completion or `conveyord` as a
// daemon on a unique socket (through `Spawn`, ChildProcess.swift), and a small
// synchronous client for the admin socket.
//
// Every wait here is bounded. The default bounds only guard against a hang (each
// wait ends as soon as what it waits for happens), so they are generous: under the
// parallel suite on two cores a daemon can get no CPU for seconds.

// MARK: - Binaries

/// Where the built executables are: `$CONVEYOR_BIN_DIR`, else the directory of
/// the test executable (`.build/debug/conveyorPackageTests.xctest` sits next to
/// `conveyord` and `conveyorctl` after `swift build --build-tests`).
enum Binaries {
    static func directory() throws -> String {
        if let override = ProcessInfo.processInfo.environment["CONVEYOR_BIN_DIR"], !override.isEmpty {
            return override
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // On Darwin the test binary is inside `….xctest/Contents/MacOS/`: use the bundle's directory.
        var components = executable.pathComponents
        if let bundle = components.lastIndex(where: { $0.hasSuffix(".xctest") }) {
            components = Array(components[...bundle])
        }
        return (NSString.path(withComponents: components) as NSString).deletingLastPathComponent
    }

    /// The path of `name` (`conveyord`, `conveyorctl`); fails with a clear reason when missing.
    static func path(_ name: String) throws -> String {
        let directory = try directory()
        let path = directory + "/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSetupError(
                "\(name) not found in \(directory): run `swift build --build-tests` first, or set CONVEYOR_BIN_DIR to the directory holding conveyord and conveyorctl")
        }
        return path
    }

    static func conveyord() throws -> String { try path("conveyord") }
    static func conveyorctl() throws -> String { try path("conveyorctl") }
}

// MARK: - Running the executables

/// Runs `conveyorctl`, optionally as another user through `runuser` (we are root in CI).
enum Conveyorctl {
    static func run(
        _ arguments: [String], socket: String?, asUser user: (name: String, group: String)? = nil,
        environment: [String: String] = [:], timeout: Duration = .seconds(30)
    ) throws -> CommandResult {
        let ctl = try Binaries.conveyorctl()
        var argv = [ctl] + (socket.map { ["--socket", $0] } ?? []) + arguments
        if let user {
            argv = ["/usr/sbin/runuser", "-u", user.name, "-g", user.group, "--"] + argv
        }
        return try Spawn.run(argv, environment: environment, timeout: timeout)
    }
}

/// Runs `conveyord` to completion (for `check-config`, `migrate`, start-up failures, `--help`).
enum Conveyord {
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)) throws -> CommandResult {
        try Spawn.run([try Binaries.conveyord()] + arguments, environment: environment, timeout: timeout)
    }
}

// MARK: - A running daemon

/// `conveyord run` as a child process on its own socket, logging JSON to a file.
///
/// Several may run at once on one database (each with its own socket). Always
/// `stop()` it (`defer { daemon.stop() }`); deinit kills it as a last resort.
final class DaemonProcess {
    let pid: pid_t
    /// The admin socket path (`CONVEYOR_ADMIN_SOCKET`).
    let socketPath: String
    /// A temporary directory of this daemon: its log, and its socket unless another path was given.
    let directory: String
    /// stdout and stderr of the daemon.
    let logPath: String
    let databaseURL: String
    private var exitStatus: Int32?

    /// Starts `conveyord <arguments>` (default `run`) with CONVEYOR_DATABASE_URL, CONVEYOR_ADMIN_SOCKET
    /// and CONVEYOR_LOG_FORMAT=json, plus `environment` (which may override those).
    ///
    /// - Parameters:
    ///   - socketPath: default `<directory>/admin.sock`.
    ///   - configPath: passed as `--config`.
    ///   - waitUntilReady: wait (at most `readyTimeout`) until the socket accepts
    ///     connections; throws with the log if the daemon exits first or never gets there.
    ///   - journal: set `JOURNAL_STREAM` to the log file, as systemd does when stderr is the journal.
    init(
        database: String, environment: [String: String] = [:], socketPath: String? = nil, configPath: String? = nil,
        arguments: [String] = ["run"], waitUntilReady: Bool = true, readyTimeout: Duration = .seconds(30), journal: Bool = false
    ) throws {
        directory = try TemporaryDirectory.make("cvyd")
        chmod(directory, 0o755)
        self.socketPath = socketPath ?? directory + "/admin.sock"
        logPath = directory + "/conveyord.log"
        databaseURL = database
        var variables = [
            "CONVEYOR_DATABASE_URL": database,
            "CONVEYOR_ADMIN_SOCKET": self.socketPath,
            "CONVEYOR_LOG_FORMAT": "json",
        ]
        variables.merge(environment) { _, new in new }
        if journal {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            var status = stat()
            guard stat(logPath, &status) == 0 else { throw TestSetupError("stat \(logPath): \(String(cString: strerror(errno)))") }
            variables["JOURNAL_STREAM"] = "\(status.st_dev):\(status.st_ino)"
        }
        let argv = [try Binaries.conveyord()] + arguments + (configPath.map { ["--config", $0] } ?? [])
        do {
            pid = try Spawn.start(argv, stdout: logPath, stderr: logPath, environment: variables)
        } catch {
            TemporaryDirectory.remove(directory)
            throw error
        }
        if waitUntilReady {
            do {
                try self.waitUntilReady(timeout: readyTimeout)
            } catch {
                stop()
                throw error
            }
        }
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = Spawn.wait(pid, timeout: .seconds(5))
        }
    }

    /// Waits until the socket accepts a connection; throws if the daemon exits first.
    func waitUntilReady(timeout: Duration = .seconds(30)) throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = pollExit() {
                throw TestSetupError("conveyord exited with status \(status) before its socket was ready; log:\n\(log)")
            }
            if AdminClient.canConnect(socketPath) { return }
            if ContinuousClock.now >= deadline {
                throw TestSetupError("conveyord's socket \(socketPath) was not ready within \(timeout); log:\n\(log)")
            }
            usleep(20_000)
        }
    }

    /// Everything the daemon wrote so far (JSON log lines on stderr).
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The log's JSON records, parsed (lines that are not JSON are left out).
    var logRecords: [JSONValue] {
        log.split(whereSeparator: \.isNewline).compactMap { try? JSONValue(parsing: String($0)) }
    }

    /// Waits at most `timeout` until some log record's `msg` is `message`.
    func waitForLog(message: String, timeout: Duration = .seconds(30)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if logRecords.contains(where: { $0["msg"]?.stringValue == message }) { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(20_000)
        }
    }

    var isRunning: Bool { pollExit() == nil }

    /// The exit status if the daemon has exited, else nil (reaps it once).
    func pollExit() -> Int32? {
        if exitStatus == nil { exitStatus = Spawn.poll(pid) }
        return exitStatus
    }

    func signal(_ signal: Int32) {
        guard exitStatus == nil else { return }
        kill(pid, signal)
    }

    /// Waits at most `timeout` for the daemon to exit and returns its status (128 + signal
    /// when killed); throws when it is still running then.
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(30)) throws -> Int32 {
        if let exitStatus { return exitStatus }
        guard let status = Spawn.wait(pid, timeout: timeout) else {
            throw TestSetupError("conveyord (pid \(pid)) still running after \(timeout); log:\n\(log)")
        }
        exitStatus = status
        return status
    }

    /// SIGKILL, and reaps it.
    func kill9() {
        signal(SIGKILL)
        _ = try? waitForExit(timeout: .seconds(10))
    }

    /// Stops the daemon if it still runs (SIGTERM, then SIGKILL after 10 s) and removes its
    /// temporary directory. Idempotent.
    func stop() {
        if exitStatus == nil {
            signal(SIGTERM)
            if (try? waitForExit(timeout: .seconds(10))) == nil { kill9() }
        }
        TemporaryDirectory.remove(directory)
    }

    /// Resident memory in KiB, from /proc/<pid>/status.
    var residentKilobytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        return line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) }
    }

    /// A connection to this daemon's socket, greeting read.
    func connect(timeout: Duration = .seconds(30)) throws -> AdminClient {
        try AdminClient(path: socketPath, timeout: timeout)
    }

    /// `conveyorctl --socket <ours> <arguments>`.
    func ctl(_ arguments: [String], asUser user: (name: String, group: String)? = nil) throws -> CommandResult {
        try Conveyorctl.run(arguments, socket: socketPath, asUser: user)
    }
}

// MARK: - Admin socket client

/// A synchronous admin-socket client on a plain non-blocking `AF_UNIX` socket; every wait
/// goes through `poll` with a deadline.
final class AdminClient {
    private(set) var descriptor: Int32
    /// The first line the daemon sent (nil when created with `readGreeting: false`).
    private(set) var greeting: String?
    private var buffer: [UInt8] = []
    let timeout: Duration

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Connects to `path` and, unless told not to, reads the greeting line.
    init(path: String, readGreeting: Bool = true, timeout: Duration = .seconds(30)) throws {
        self.timeout = timeout
        descriptor = try Self.open(path)
        if readGreeting {
            guard let line = try readLine() else {
                Glibc.close(descriptor)
                throw Failure(description: "the daemon closed the connection without a greeting")
            }
            greeting = line
        }
    }

    deinit { close() }

    /// Whether `path` accepts a connection right now (the connection is closed at once).
    static func canConnect(_ path: String) -> Bool {
        guard let descriptor = try? open(path) else { return false }
        Glibc.close(descriptor)
        return true
    }

    private static func open(_ path: String) throws -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure(description: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw Failure(description: "cannot connect to \(path): \(reason)")
        }
        _ = fcntl(descriptor, F_SETFL, O_NONBLOCK)
        return descriptor
    }

    /// Shuts down the writing side only (what `socat` does at the end of its input).
    func shutdownWriting() {
        _ = Glibc.shutdown(descriptor, Int32(SHUT_WR))
    }

    func close() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }

    // MARK: Reading

    /// The next line without its newline; nil when the daemon closed the connection
    /// (buffered bytes without a newline are returned as a last line). Throws on timeout.
    func readLine(timeout: Duration? = nil) throws -> String? {
        let deadline = ContinuousClock.now + (timeout ?? self.timeout)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            switch try readChunk(until: deadline) {
            case .data: continue
            case .closed:
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
        }
    }

    /// `count` lines; throws if the connection closes or times out first.
    func readLines(_ count: Int, timeout: Duration? = nil) throws -> [String] {
        try (0..<count).map { index in
            guard let line = try readLine(timeout: timeout) else {
                throw Failure(description: "connection closed after \(index) of \(count) lines")
            }
            return line
        }
    }

    /// Reads and keeps lines until the daemon closes the connection; nil if it is still
    /// open after `timeout`.
    func linesUntilClosed(timeout: Duration = .seconds(30)) -> [String]? {
        var lines: [String] = []
        let deadline = ContinuousClock.now + timeout
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return nil }
            do {
                guard let line = try readLine(timeout: remaining) else { return lines }
                lines.append(line)
            } catch let failure as Failure where failure.description.hasPrefix("connection reset") {
                return lines
            } catch {
                return nil
            }
        }
    }

    private enum Chunk { case data, closed }

    private func readChunk(until deadline: ContinuousClock.Instant) throws -> Chunk {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            try wait(for: Int16(POLLIN), until: deadline)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
                return .data
            }
            if count == 0 { return .closed }
            if errno == EINTR || errno == EAGAIN { continue }
            if errno == ECONNRESET { throw Failure(description: "connection reset by the daemon") }
            throw Failure(description: "read: \(String(cString: strerror(errno)))")
        }
    }

    private func wait(for events: Int16, until deadline: ContinuousClock.Instant) throws {
        while true {
            let remaining = deadline - ContinuousClock.now
            let millis = remaining <= .zero ? 0 : Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            var request = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = Glibc.poll(&request, 1, millis)
            if ready > 0 { return }
            if ready == 0 { throw Failure(description: "no answer from the daemon within the timeout") }
            if errno != EINTR { throw Failure(description: "poll: \(String(cString: strerror(errno)))") }
        }
    }

    // MARK: Writing

    /// Writes all of `bytes`, waiting (bounded) while the socket is full. Returns false
    /// if the daemon closed the connection (EPIPE/ECONNRESET) before everything was written.
    @discardableResult
    func writeRaw(_ bytes: [UInt8], timeout: Duration? = nil) throws -> Bool {
        let deadline = ContinuousClock.now + (timeout ?? self.timeout)
        var rest = bytes[...]
        while !rest.isEmpty {
            let count = rest.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count >= 0 {
                rest = rest.dropFirst(count)
            } else if errno == EAGAIN {
                try wait(for: Int16(POLLOUT), until: deadline)
            } else if errno == EPIPE || errno == ECONNRESET {
                return false
            } else if errno != EINTR {
                throw Failure(description: "send: \(String(cString: strerror(errno)))")
            }
        }
        return true
    }

    /// One non-blocking write attempt; returns the bytes accepted (0 when the socket is full).
    func writeSome(_ bytes: [UInt8]) throws -> Int {
        while true {
            let count = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count >= 0 { return count }
            if errno == EAGAIN { return 0 }
            if errno != EINTR { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
        }
    }

    /// Sends `line` plus a newline and returns the next line; throws if the daemon closes first.
    func send(_ line: String, timeout: Duration? = nil) throws -> String {
        guard try writeRaw(Array((line + "\n").utf8), timeout: timeout) else {
            throw Failure(description: "the daemon closed the connection while we were sending")
        }
        guard let answer = try readLine(timeout: timeout) else {
            throw Failure(description: "the daemon closed the connection instead of answering \(line.prefix(200))")
        }
        return answer
    }

    /// Sends `line` and parses the answer as a `Response`.
    func response(_ line: String, timeout: Duration? = nil) throws -> Response {
        try Response.parse(line: try send(line, timeout: timeout))
    }

    /// Sends a JSON request built from its parts and parses the answer.
    func request(_ cmd: String, _ args: [String: JSONValue] = [:], id: JSONValue? = nil, timeout: Duration? = nil) throws -> Response {
        try response(Request(id: id, cmd: cmd, args: args).encodedLine(), timeout: timeout)
    }

    /// The result of a command that must succeed.
    func result(_ cmd: String, _ args: [String: JSONValue] = [:]) throws -> JSONValue {
        let response = try request(cmd, args)
        guard case .ok(_, let result) = response else {
            throw Failure(description: "\(cmd) failed: \(response.encodedLine())")
        }
        return result
    }
}

extension Response {
    /// The error code, if this is an error response.
    var errorCode: ErrorCode? {
        if case .error(_, let error) = self { error.code } else { nil }
    }

    /// The result, if this is a success.
    var result: JSONValue? {
        if case .ok(_, let result) = self { result } else { nil }
    }

    var isOK: Bool { result != nil }
}

// MARK: - Other users

/// Runs things as an unprivileged user (the tests run as root). Setup fails loudly
/// when the machine lacks what the role tests need.
enum OtherUser {
    static let nobody = (name: "nobody", group: "nogroup")

    /// Checks that the user and group exist, `runuser` is there and perl (Debian's
    /// essential perl-base, used to read a greeting as that user) is available.
    static func requireNobody() throws {
        guard getuid() == 0 else { throw TestSetupError("role tests must run as root (they switch to nobody with runuser)") }
        guard getpwnam(nobody.name) != nil else { throw TestSetupError("user nobody does not exist") }
        guard getgrnam(nobody.group) != nil else { throw TestSetupError("group nogroup does not exist (getent group nogroup)") }
        for tool in ["/usr/sbin/runuser", "/usr/bin/perl"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw TestSetupError("\(tool) is missing")
        }
    }

    static var nobodyUID: UInt32 { getpwnam(nobody.name).map { $0.pointee.pw_uid } ?? 65_534 }
    static var nogroupGID: UInt32 { getgrnam(nobody.group).map { $0.pointee.gr_gid } ?? 65_534 }

    /// The greeting line the daemon sends to a connection made by `user`.
    static func greeting(socket: String, as user: (name: String, group: String)) throws -> String {
        let script = #"use IO::Socket::UNIX; my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n"; my $l = <$s>; print $l;"#
        let result = try Spawn.run(
            ["/usr/sbin/runuser", "-u", user.name, "-g", user.group, "--", "/usr/bin/perl", "-e", script, socket],
            timeout: .seconds(15))
        guard result.status == 0 else { throw TestSetupError("reading the greeting as \(user.name) failed: \(result)") }
        return result.stdout.trimmingCharacters(in: .newlines)
    }
}

/// Small file-system checks for the tests.
enum Files {
    /// Writes `text` to `path`, replacing it.
    static func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// The permission bits and group of `path` (lstat), and whether it is a socket.
    static func mode(_ path: String) -> (mode: mode_t, gid: gid_t, isSocket: Bool)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (info.st_mode & 0o7777, info.st_gid, (info.st_mode & S_IFMT) == S_IFSOCK)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}
