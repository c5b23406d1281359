import Foundation
import ConveyorProtocol
import Logging

/// The daemon's settings: defaults, overridden by the config file
/// (`--config PATH`), overridden by `CONVEYOR_*` environment variables.
///
/// The file holds `key = value` lines; `#` starts a comment; values may be
/// double-quoted. Every key below can also be set as `CONVEYOR_<KEY>` in the
/// environment (`CONVEYOR_DATABASE_URL`, `CONVEYOR_WORKERS`, …).
/// `Config/conveyor.conf` is the documented example.
///
/// A small reader of our own rather than swift-configuration: one flat
/// format, every key documented and range-checked here, errors in one line
/// naming the file and line; it needs no dependency.
public struct DaemonConfig: Sendable, Equatable {
    /// `database_url`: libpq conninfo string or URI; unset uses libpq's `PG*` variables.
    public var databaseURL: String?
    /// `admin_socket`: path of the admin socket.
    public var adminSocket = "/run/conveyor/admin.sock"
    /// `socket_group`: group that owns the socket (unset: the daemon's group).
    public var socketGroup: String?
    /// `operator_groups`: comma-separated groups whose members are operators
    /// (anyone else who can reach the socket is a viewer).
    public var operatorGroups: [String] = []
    /// `workers`: worker connections, 1…64.
    public var workers = 2
    /// `log_level`: trace, debug, info, notice, warning, error, critical.
    public var logLevel: Logger.Level = .info
    /// `log_format`: json or text; unset: text on a TTY, else json.
    public var logFormat: LogFormat?
    /// `batch_size`: jobs claimed per transaction, 1…10000.
    public var batchSize = 1000
    /// `poll_interval`: seconds between fallback polls when no notification arrives.
    public var pollInterval = 10.0
    /// `job_retention`: seconds finished jobs are kept before pruning.
    public var jobRetention = 7 * 86_400.0
    /// `max_line_bytes`, `max_connections`, `idle_timeout` (seconds): admin socket limits.
    public var maxLineBytes = Limits().maxLineBytes
    public var maxConnections = Limits().maxConnections
    public var idleTimeout = Double(Limits().idleTimeout.components.seconds)

    public enum LogFormat: String, Sendable { case json, text }

    public init() {}

    /// Reads the file (if any) then the environment; throws one clear message.
    public static func load(path: String?, environment: [String: String]) throws -> DaemonConfig {
        var config = DaemonConfig()
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigError("cannot read config file \(path): \((error as NSError).localizedDescription)")
            }
            for (number, key, value) in try parse(text, path: path) {
                try config.set(key, value, source: "\(path):\(number)")
            }
        }
        for key in Self.keys {
            if let value = environment["CONVEYOR_" + key.uppercased()] {
                try config.set(key, value, source: "CONVEYOR_\(key.uppercased())")
            }
        }
        return config
    }

    static let keys = [
        "database_url", "admin_socket", "socket_group", "operator_groups", "workers",
        "log_level", "log_format", "batch_size", "poll_interval", "job_retention", "max_line_bytes",
        "max_connections", "idle_timeout",
    ]

    /// The current value of `key`, as text (to report what a reload changed).
    func value(of key: String) -> String {
        switch key {
        case "database_url": databaseURL ?? ""
        case "admin_socket": adminSocket
        case "socket_group": socketGroup ?? ""
        case "operator_groups": operatorGroups.joined(separator: ",")
        case "workers": String(workers)
        case "log_level": logLevel.rawValue
        case "log_format": logFormat?.rawValue ?? ""
        case "batch_size": String(batchSize)
        case "poll_interval": String(pollInterval)
        case "job_retention": String(jobRetention)
        case "max_line_bytes": String(maxLineBytes)
        case "max_connections": String(maxConnections)
        case "idle_timeout": String(idleTimeout)
        default: ""
        }
    }

    private mutating func set(_ key: String, _ value: String, source: String) throws {
        func fail(_ expected: String) -> ConfigError {
            ConfigError("\(source): \(key) must be \(expected), got \(quoted(value))")
        }
        func integer(_ range: ClosedRange<Int>) throws -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw fail("an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        func seconds(_ range: ClosedRange<Double>) throws -> Double {
            guard let number = Double(value), number.isFinite, range.contains(number) else {
                throw fail("a number of seconds from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        switch key {
        case "database_url": databaseURL = value.isEmpty ? nil : value
        case "admin_socket":
            guard value.hasPrefix("/") || value.hasPrefix("."), value.utf8.count < 108 else {
                throw fail("an absolute path shorter than 108 bytes")
            }
            adminSocket = value
        case "socket_group": socketGroup = value.isEmpty ? nil : value
        case "operator_groups":
            operatorGroups = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case "workers": workers = try integer(1...64)
        case "log_level":
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw fail("one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = level
        case "log_format":
            guard let format = LogFormat(rawValue: value.lowercased()) else { throw fail("json or text") }
            logFormat = format
        case "batch_size": batchSize = try integer(1...10_000)
        case "poll_interval": pollInterval = try seconds(0.01...3600)
        case "job_retention": jobRetention = try seconds(0...(365 * 86_400))
        case "max_line_bytes": maxLineBytes = try integer(256...(16 << 20))
        case "max_connections": maxConnections = try integer(1...10_000)
        case "idle_timeout": idleTimeout = try seconds(0.1...86_400)
        default: throw ConfigError("\(source): unknown key \(quoted(key)) (known: \(Self.keys.joined(separator: ", ")))")
        }
    }

    /// Parses `key = value` lines into (line number, key, value).
    static func parse(_ text: String, path: String) throws -> [(Int, String, String)] {
        var entries: [(Int, String, String)] = []
        // Any line break counts (\r\n is one Character in Swift, so split on newlines, not "\n").
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError("\(path):\(number): expected key = value, got \(quoted(line))")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\"") {
                guard value.count >= 2, value.hasSuffix("\"") else {
                    throw ConfigError("\(path):\(number): unterminated quoted value for \(key)")
                }
                value = String(value.dropFirst().dropLast())
            } else if let hash = value.firstIndex(of: "#") {
                value = value[..<hash].trimmingCharacters(in: .whitespaces)
            }
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0 == "_" }) else {
                throw ConfigError("\(path):\(number): bad key \(quoted(key))")
            }
            entries.append((number, key, value))
        }
        return entries
    }
}

/// Quotes a value for an error message: at most 80 characters, escaped so
/// the message stays one line whatever the input.
func quoted(_ value: String) -> String {
    var text = String(value.prefix(80)).debugDescription
    if value.count > 80 { text += "…" }
    return text
}

/// A configuration problem, said in one line.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
