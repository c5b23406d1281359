import ConveyorCore
import Foundation
import Logging
import Synchronization

/// How the daemon logs, changeable at run time: the level (`log.level`,
/// reload) and the format (reload); and, fixed at start, whether stderr is
/// the journal's stream, so that each line carries its syslog priority.
public final class LogControl: Sendable {
    private let settings: Mutex<(level: Logger.Level, json: Bool)>
    /// True when `$JOURNAL_STREAM` names stderr (systemd connected it to the journal).
    public let journal: Bool

    public init(level: Logger.Level, format: DaemonConfig.LogFormat?, environment: [String: String]) {
        settings = Mutex((level, Self.json(format)))
        journal = environment["JOURNAL_STREAM"].map(Self.isStandardError) ?? false
    }

    public var level: Logger.Level {
        get { settings.withLock { $0.level } }
        set { settings.withLock { $0.level = newValue } }
    }

    public var json: Bool { settings.withLock { $0.json } }

    /// Puts a format in force (unset: text on a terminal, else JSON).
    public func setFormat(_ format: DaemonConfig.LogFormat?) {
        settings.withLock { $0.json = Self.json(format) }
    }

    private static func json(_ format: DaemonConfig.LogFormat?) -> Bool {
        (format ?? (isatty(STDERR_FILENO) == 1 ? .text : .json)) == .json
    }

    /// `JOURNAL_STREAM` is `<device>:<inode>` of the journal's stream; stderr
    /// is that stream unless it was redirected since.
    public static func isStandardError(_ journalStream: String) -> Bool {
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// sd-daemon's `<N>` prefix: the syslog priority of `level`.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}

/// Writes one line per record to stderr, as JSON (`{"ts":…,"level":…,
/// "label":…,"msg":…,…metadata}`, the keys of `docs/logging.md`) or as
/// readable text, each line led by its `<N>` priority when stderr is the
/// journal. Executables bootstrap it; libraries only take a `Logger`.
public struct ConveyorLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let control: LogControl

    public init(label: String, control: LogControl) {
        self.label = label
        self.control = control
    }

    public var logLevel: Logger.Level {
        get { control.level }
        set { control.level = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let timestamp = ISO8601.string(Date())
        var line = control.journal ? "<\(LogControl.priority(event.level))>" : ""
        if control.json {
            var fields: [String: String] = [:]
            for (key, value) in merged { fields[key] = "\(value)" }
            fields["ts"] = timestamp
            fields["level"] = event.level.rawValue
            fields["label"] = label
            fields["msg"] = "\(event.message)"
            let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line += String(decoding: data, as: UTF8.self)
        } else {
            let details = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line += "\(timestamp) \(event.level.rawValue.uppercased()) \(label): \(event.message)\(details.isEmpty ? "" : " " + details)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
