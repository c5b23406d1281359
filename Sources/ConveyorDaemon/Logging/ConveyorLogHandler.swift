import ConveyorCore
import Foundation
import Logging
import Synchronization

/// The daemon's log level, changeable at run time (`log.level`, SIGHUP).
public final class LogLevelControl: Sendable {
    private let level: Mutex<Logger.Level>
    public init(_ level: Logger.Level) { self.level = Mutex(level) }
    public var current: Logger.Level {
        get { level.withLock { $0 } }
        set { level.withLock { $0 = newValue } }
    }
}

/// Writes one line per record to stderr, as JSON (`{"ts":…,"level":…,
/// "label":…,"msg":…,…metadata}`) or as readable text. Executables bootstrap
/// it; libraries only take a `Logger`.
public struct ConveyorLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let json: Bool
    private let control: LogLevelControl

    public init(label: String, json: Bool, control: LogLevelControl) {
        self.label = label
        self.json = json
        self.control = control
    }

    public var logLevel: Logger.Level {
        get { control.current }
        set { control.current = newValue }
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
        let line: String
        if json {
            var fields: [String: String] = [:]
            for (key, value) in merged { fields[key] = "\(value)" }
            fields["ts"] = timestamp
            fields["level"] = event.level.rawValue
            fields["label"] = label
            fields["msg"] = "\(event.message)"
            let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        } else {
            let details = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(timestamp) \(event.level.rawValue.uppercased()) \(label): \(event.message)\(details.isEmpty ? "" : " " + details)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
