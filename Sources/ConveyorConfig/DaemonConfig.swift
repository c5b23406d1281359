import ConveyorCore
import Foundation
import ConveyorProtocol
import Logging

/// The daemon's settings: defaults, overridden by the config file
/// (`--config PATH`), overridden by `CONVEYOR_*` environment variables.
///
/// The file holds `key = value` lines; `#` starts a comment; values may be
/// double-quoted. Every key can also be set as `CONVEYOR_<KEY>` in the
/// environment (`CONVEYOR_DATABASE_URL`, `CONVEYOR_WORKERS`, …).
/// The keys are defined once, in ``table``: what each means and takes, its
/// reload behaviour, and how it is read and stored. `docs/config.md` is
/// rendered from it and `Config/conveyor.conf` is the documented example.
///
/// A small reader of our own rather than swift-configuration: one flat
/// format, every key documented and range-checked here, errors in one line
/// naming the file and line; it needs no dependency.
public struct DaemonConfig: Sendable, Equatable {
    // Each property holds one key of `table` (named in its comment); the
    // defaults are the keys' defaults.

    /// `database_url`; `nil`: libpq's `PG*` variables.
    public var databaseURL: String?
    /// `admin_socket`.
    public var adminSocket = "/run/conveyor/admin.sock"
    /// `socket_group`; `nil`: the daemon's group.
    public var socketGroup: String?
    /// `operator_groups`.
    public var operatorGroups: [String] = []
    /// `operator_teams`: group → the teams its members may change.
    public var operatorTeams: [String: Set<String>] = [:]
    /// `workers`.
    public var workers = 2
    /// `admin_db_connections`.
    public var adminDatabaseConnections = 4
    /// `admin_statement_timeout`, seconds.
    public var adminStatementTimeout = 10.0
    /// `log_level`.
    public var logLevel: Logger.Level = .info
    /// `log_format`; `nil`: text on a TTY, else json.
    public var logFormat: LogFormat?
    /// `batch_size`.
    public var batchSize = 1000
    /// `poll_interval`, seconds.
    public var pollInterval = 10.0
    /// `job_retention`, seconds.
    public var jobRetention = 7 * 86_400.0
    /// `scan_check_interval`, seconds.
    public var scanCheckInterval = 30.0
    /// `webhook_timeout`, seconds.
    public var webhookTimeout = 10.0
    /// `metrics_textfile`; `nil`: none written.
    public var metricsTextfile: String?
    /// `metrics_textfile_interval`, seconds.
    public var metricsTextfileInterval = 15.0
    /// `max_line_bytes`, `max_connections`, `max_streams`, `idle_timeout`, `line_timeout` (seconds): the admin socket's ``Limits``.
    public var maxLineBytes = Limits().maxLineBytes
    public var maxConnections = Limits().maxConnections
    public var maxStreams = Limits().maxStreams
    public var idleTimeout = Double(Limits().idleTimeout.components.seconds)
    public var lineTimeout = Double(Limits().lineTimeout.components.seconds)

    public enum LogFormat: String, Sendable { case json, text }

    public init() {}

    /// Reads the file (if any) then the environment; throws one clear message.
    public static func load(path: String?, environment: [String: String]) throws -> DaemonConfig {
        try loadWithSources(path: path, environment: environment).config
    }

    /// As ``load(path:environment:)``, and where each key's value came from:
    /// `file:line` or the environment variable (keys left out kept their default).
    public static func loadWithSources(path: String?, environment: [String: String]) throws -> (config: DaemonConfig, sources: [String: String]) {
        var config = DaemonConfig()
        var sources: [String: String] = [:]
        if let path {
            for (number, key, value) in try parse(try text(ofFile: path), path: path) {
                try config.set(key, value, source: "\(path):\(number)")
                sources[key] = "\(path):\(number)"
            }
        }
        for key in Self.table {
            if let value = environment[key.environmentVariable] {
                try config.set(key.name, value, source: key.environmentVariable)
                sources[key.name] = key.environmentVariable
            }
        }
        return (config, sources)
    }

    /// The file's text, which must be UTF-8 (else the error names the first line that is not).
    ///
    /// Read through `FileHandle`: `String(contentsOfFile:)` and `Data(contentsOf:)` leak 4 KiB
    /// at each read of an empty file (found by `scripts/fuzz`; every reload reads the file).
    private static func text(ofFile path: String) throws -> String {
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.readToEnd() ?? Data()
        } catch {
            throw ConfigError("cannot read config file \(path): \((error as NSError).localizedDescription)")
        }
        if let text = String(validating: data, as: UTF8.self) { return text }
        var parser = Unicode.UTF8.ForwardParser()
        var bytes = data.makeIterator()
        var valid = 0
        while case .valid(let scalar) = parser.parseScalar(from: &bytes) { valid += scalar.count }
        let lines = String(decoding: data.prefix(valid), as: UTF8.self).split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        throw ConfigError("cannot read config file \(path): line \(lines.count) is not UTF-8")
    }

    /// Every key as `key = value  # source`, secrets (`database_url`) redacted:
    /// what `conveyord check-config` prints.
    public func listing(sources: [String: String]) -> String {
        let lines = Self.table.map { key in
            let value = key.read(self)
            let quoted = Quoting.excerpt(value, maxCharacters: 200)
            // Plain values as they are; quoted (and escaped) only when they hold spaces or controls.
            let plain = quoted == "\"\(value)\"" && !value.contains(where: \.isWhitespace)
            let shown = value.isEmpty ? "" : key.secret ? "(redacted)" : plain ? value : quoted
            return (key.name + " = " + shown, sources[key.name] ?? (value.isEmpty ? "unset: \(key.unset ?? "empty")" : "default"))
        }
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  # " + $0.1 }.joined(separator: "\n")
    }

    /// Every key, in the order of `docs/config.md` (and of an unknown key's error message).
    public static let keys = table.map(\.name)

    /// The key called `name`, if there is one.
    package static func key(named name: String) -> ConfigKey? {
        table.first { $0.name == name }
    }

    /// The current value of `key`, as text (to report what a reload changed).
    package func value(of key: String) -> String {
        Self.key(named: key)?.read(self) ?? ""
    }

    private mutating func set(_ name: String, _ value: String, source: String) throws {
        guard let key = Self.key(named: name) else {
            throw ConfigError("\(source): unknown key \(Quoting.excerpt(name, maxCharacters: 80)) (known: \(Self.keys.joined(separator: ", ")))")
        }
        guard key.assign(&self, value) else {
            throw ConfigError("\(source): \(name) must be \(key.accepts), got \(Quoting.excerpt(value, maxCharacters: 80))")
        }
    }

    /// Parses `key = value` lines into (line number, key, value); `path` names the file in errors.
    ///
    /// - Throws: ``ConfigError`` naming `path` and the line.
    public static func parse(_ text: String, path: String) throws -> [(Int, String, String)] {
        var entries: [(Int, String, String)] = []
        // Any line break counts (\r\n is one Character in Swift, so split on newlines, not "\n").
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError("\(path):\(number): expected key = value, got \(Quoting.excerpt(line, maxCharacters: 80))")
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
                throw ConfigError("\(path):\(number): bad key \(Quoting.excerpt(key, maxCharacters: 80))")
            }
            entries.append((number, key, value))
        }
        return entries
    }
}

extension DaemonConfig {
    /// Every key: the one definition that ``load(path:environment:)``, ``value(of:)``
    /// (what a reload compares) and `docs/config.md` read.
    package static let table: [ConfigKey] = [
        .text(
            "database_url", \.databaseURL, secret: true,
            "libpq connection string or URI; multi-host strings (`host=db1,db2 target_session_attrs=read-write`) "
                + "work. May hold a password: never shown",
            accepts: "a libpq conninfo string or URI", unset: "libpq's own `PG*` variables (`PGHOST`, `PGDATABASE`, …)"),
        ConfigKey(
            name: "admin_socket",
            summary: "path of the admin socket, for the daemon and `conveyorctl`; its directory is created 0750, the socket 0660",
            accepts: "an absolute path shorter than 108 bytes", read: \.adminSocket
        ) { config, value in
            guard value.hasPrefix("/") || value.hasPrefix("."), value.utf8.count < 108 else { return false }
            config.adminSocket = value
            return true
        },
        .text(
            "socket_group", \.socketGroup,
            "group that owns the socket, so that its members can reach it (an unknown group stops the start)",
            accepts: "a group name", unset: "the daemon's group"),
        ConfigKey(
            name: "operator_groups",
            summary: "members of these groups get the `operator` role; uid 0 and the daemon's uid are `admin`, "
                + "anyone else who can reach the socket is `viewer`",
            accepts: "comma-separated group names", unset: "none", reload: .applies,
            read: { $0.operatorGroups.joined(separator: ",") }
        ) { config, value in
            config.operatorGroups = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return true
        },
        ConfigKey(
            name: "operator_teams",
            summary: "members of these groups get the `operator` role for the teams named only; a change to any other "
                + "team is `permission_denied` (audited). A group in `operator_groups` too operates every team",
            accepts: "comma-separated `group:team` items, several teams joined by `+` (`rail-ops:rail+rail-east`)",
            unset: "none", reload: .applies, read: \.operatorTeamsText
        ) { config, value in
            guard let teams = DaemonConfig.parseOperatorTeams(value) else { return false }
            config.operatorTeams = teams
            return true
        },
        .integer("workers", \.workers, 1...64, "worker connections for handoffs and other short jobs (one more runs scans and webhook deliveries)"),
        ConfigKey(
            name: "log_level",
            summary: "least severe level logged (case-insensitive); `log.level` changes it at run time",
            accepts: "one of " + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "), reload: .applies,
            read: \.logLevel.rawValue
        ) { config, value in
            guard let level = Logger.Level(rawValue: value.lowercased()) else { return false }
            config.logLevel = level
            return true
        },
        ConfigKey(
            name: "log_format", summary: "`json`: one object a line; `text`: for people (case-insensitive)",
            accepts: "json or text", unset: "text on a TTY, else json", reload: .applies, read: { $0.logFormat?.rawValue ?? "" }
        ) { config, value in
            guard !value.isEmpty else {
                config.logFormat = nil
                return true
            }
            guard let format = LogFormat(rawValue: value.lowercased()) else { return false }
            config.logFormat = format
            return true
        },
        .integer(
            "admin_db_connections", \.adminDatabaseConnections, 1...64,
            "PostgreSQL connections serving admin commands, so a slow one does not hold up the rest (the audit "
                + "has one of its own; housekeeping and the scan scheduler share another)"),
        .seconds(
            "admin_statement_timeout", \.adminStatementTimeout, 0.1...3600,
            "seconds one statement of an admin command may take on those connections (PostgreSQL's "
                + "statement_timeout); a longer one is cancelled and the command answers `timeout`, so a hung read "
                + "never holds `status` up for good (long work, `rep.depart` and `scan.run`, runs as queue jobs)"),
        .integer("batch_size", \.batchSize, 1...10_000, "jobs claimed per transaction"),
        .seconds(
            "poll_interval", \.pollInterval, 0.01...3600,
            "seconds between fallback polls when no notification arrives (wake-ups come from LISTEN/NOTIFY; "
                + "this only bounds a missed one); housekeeping (waiting jobs whose time came, accounts set won by "
                + "plain SQL) runs as often, and at least every 30 s"),
        .seconds(
            "job_retention", \.jobRetention, 0...(365 * 86_400),
            "seconds finished jobs are kept before pruning (dead jobs stay until an operator retries or cancels them)"),
        .seconds(
            "scan_check_interval", \.scanCheckInterval, 0.05...3600,
            "seconds between checks for teams whose nightly scan time has come: a scan is scheduled at most this long "
                + "after its time (and at start)"),
        .seconds(
            "webhook_timeout", \.webhookTimeout, 0.1...300,
            "seconds one webhook delivery may take, connecting, sending and reading the answer; a slower one is a "
                + "failed attempt, retried with backoff"),
        ConfigKey(
            name: "metrics_textfile",
            summary: "file the `metrics` exposition is written to periodically, for node_exporter's textfile collector "
                + "(written beside it and renamed into place, so a reader never sees half a file)",
            accepts: "an absolute path ending in `.prom`", unset: "none written", read: { $0.metricsTextfile ?? "" }
        ) { config, value in
            guard !value.isEmpty else {
                config.metricsTextfile = nil
                return true
            }
            guard value.hasPrefix("/"), value.hasSuffix(".prom"), !value.utf8.contains(0) else { return false }
            config.metricsTextfile = value
            return true
        },
        .seconds(
            "metrics_textfile_interval", \.metricsTextfileInterval, 1...3600, "seconds between writes of `metrics_textfile`"),
        .integer(
            "max_line_bytes", \.maxLineBytes, 256...(16 << 20),
            "longest admin request line in bytes; a longer one gets `too_large` and the connection closes",
            reload: .applies),
        .integer(
            "max_connections", \.maxConnections, 1...10_000,
            "most admin connections at once; one more gets `too_many_connections` (admins have 4 more of their own)",
            reload: .applies),
        .integer(
            "max_streams", \.maxStreams, 1...100_000,
            "most `watch` streams at once, apart from `max_connections`; one more `watch` gets `too_many_connections`",
            reload: .applies),
        .seconds(
            "idle_timeout", \.idleTimeout, 0.1...86_400,
            "seconds before an admin connection without a request is closed (`watch` streams send a heartbeat at "
                + "half of it, at most every 30 s)"),
        .seconds(
            "line_timeout", \.lineTimeout, 0.1...3600,
            "seconds a request line may take to arrive once its first byte has; a slower one gets `timeout` and the "
                + "connection closes",
            reload: .applies),
    ]

    /// The key table of `docs/config.md`, one row per key of ``table`` in its order.
    package static var markdownReference: String {
        let defaults = DaemonConfig()
        return Markdown.table(
            ["key", "environment", "meaning", "takes", "default", "on reload"],
            table.map { key in
                let value = key.read(defaults)
                return [
                    Markdown.code(key.name), Markdown.code(key.environmentVariable), key.summary, key.accepts,
                    value.isEmpty ? key.unset ?? "empty" : Markdown.code(value.hasSuffix(".0") ? String(value.dropLast(2)) : value),
                    key.reload == .applies ? "applies at once" : "needs a restart",
                ]
            })
    }
}

extension DaemonConfig {
    /// `operator_teams` as its config text, groups and teams sorted.
    var operatorTeamsText: String {
        operatorTeams.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.sorted().joined(separator: "+"))" }.joined(separator: ",")
    }

    /// `group:team+team,…`; nil when an item lacks its group or a team.
    static func parseOperatorTeams(_ text: String) -> [String: Set<String>]? {
        var teams: [String: Set<String>] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let group = parts[0].trimmingCharacters(in: .whitespaces)
            guard parts.count == 2, !group.isEmpty else { return nil }
            let names = parts[1].split(separator: "+", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard !names.contains(where: \.isEmpty) else { return nil }
            teams[group, default: []].formUnion(names)
        }
        return teams
    }
}

extension DaemonConfig: CustomStringConvertible {
    /// `key=value` for every key, secrets (`database_url`) shown as `(redacted)`, so a
    /// configuration that ends up in a log gives no password away.
    public var description: String {
        Self.table.map { key in
            let value = key.read(self)
            return key.name + "=" + (key.secret && !value.isEmpty ? "(redacted)" : Quoting.excerpt(value, maxCharacters: 80))
        }.joined(separator: " ")
    }
}

/// One key of the config file: the single definition of its name, meaning, accepted
/// values, default, reload behaviour and secrecy, and of how it is read and stored.
package struct ConfigKey: Sendable {
    package enum Reload: Sendable {
        /// `config.reload` (or SIGHUP) puts a changed value in force.
        case applies
        /// A changed value is reported in `restart_required` and takes effect at the next start.
        case restart
    }

    package let name: String
    package let summary: String
    /// What a value must be; a bad one's error says `<name> must be <accepts>, got …`.
    package let accepts: String
    /// What the key's default means when its value is empty (unset).
    package var unset: String?
    package var reload = Reload.restart
    /// Whether the value may hold a secret and is never shown.
    package var secret = false
    /// The value as text: empty when unset; what a reload compares.
    package let read: @Sendable (DaemonConfig) -> String
    /// Stores a value from a file or the environment; false when it is not one `accepts` allows.
    package let assign: @Sendable (inout DaemonConfig, String) -> Bool

    /// `CONVEYOR_<NAME>`: the environment variable that overrides the file.
    package var environmentVariable: String { "CONVEYOR_" + name.uppercased() }

    /// An integer within `range`.
    static func integer(
        _ name: String, _ field: WritableKeyPath<DaemonConfig, Int> & Sendable, _ range: ClosedRange<Int>, _ summary: String,
        reload: Reload = .restart
    ) -> ConfigKey {
        ConfigKey(
            name: name, summary: summary, accepts: "an integer from \(range.lowerBound) to \(range.upperBound)", reload: reload,
            read: { String($0[keyPath: field]) }
        ) { config, value in
            guard let number = Int(value), range.contains(number) else { return false }
            config[keyPath: field] = number
            return true
        }
    }

    /// A finite number of seconds within `range`, fractions allowed.
    static func seconds(
        _ name: String, _ field: WritableKeyPath<DaemonConfig, Double> & Sendable, _ range: ClosedRange<Double>,
        _ summary: String, reload: Reload = .restart
    ) -> ConfigKey {
        ConfigKey(
            name: name, summary: summary,
            accepts: "a number of seconds from \(range.lowerBound) to \(range.upperBound)", reload: reload,
            read: { String($0[keyPath: field]) }
        ) { config, value in
            guard let number = Double(value), number.isFinite, range.contains(number) else { return false }
            config[keyPath: field] = number
            return true
        }
    }

    /// Any text; empty means unset (`nil`).
    static func text(
        _ name: String, _ field: WritableKeyPath<DaemonConfig, String?> & Sendable, secret: Bool = false,
        _ summary: String, accepts: String, unset: String
    ) -> ConfigKey {
        ConfigKey(
            name: name, summary: summary, accepts: accepts, unset: unset, secret: secret,
            read: { $0[keyPath: field] ?? "" }
        ) { config, value in
            config[keyPath: field] = value.isEmpty ? nil : value
            return true
        }
    }
}

/// A configuration problem, said in one line.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
