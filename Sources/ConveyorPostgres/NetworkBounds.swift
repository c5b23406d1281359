import CLibPQ
import Foundation

/// The TCP settings that bound how long a connection to a server that went
/// silent goes unnoticed: libpq's `keepalives_idle`, `keepalives_interval`,
/// `keepalives_count` and `tcp_user_timeout`, as the conninfo sets them, or
/// our defaults (which every `PostgresConnection` passes to libpq ahead of
/// the conninfo, so the conninfo's own win). They apply to TCP only.
public struct NetworkBounds: Sendable, Equatable {
    /// Seconds idle before the first keepalive probe.
    public var keepalivesIdle: Int
    /// Seconds between probes.
    public var keepalivesInterval: Int
    /// Probes unanswered before the kernel drops the connection.
    public var keepalivesCount: Int
    /// Milliseconds sent data may stay unacknowledged (0: the kernel's default).
    public var tcpUserTimeout: Int
    /// The keywords the conninfo sets itself.
    public var fromConninfo: Set<String> = []

    /// What a conninfo that sets none of them gets: a dead peer is noticed
    /// after 30 + 10 × 3 = 60 s of silence, and sent data is given up on after 60 s.
    public static let defaults = NetworkBounds(keepalivesIdle: 30, keepalivesInterval: 10, keepalivesCount: 3, tcpUserTimeout: 60_000)

    static let keywords = ["keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout"]

    public init(keepalivesIdle: Int, keepalivesInterval: Int, keepalivesCount: Int, tcpUserTimeout: Int) {
        self.keepalivesIdle = keepalivesIdle
        self.keepalivesInterval = keepalivesInterval
        self.keepalivesCount = keepalivesCount
        self.tcpUserTimeout = tcpUserTimeout
    }

    /// Reads the conninfo (key=value or URI); throws on a string libpq cannot
    /// parse or a value that is not a whole number in range.
    public init(conninfo: String?) throws {
        self = Self.defaults
        guard let conninfo, !conninfo.isEmpty else { return }
        var message: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &message) else {
            let reason = message.map { String(cString: $0) } ?? "out of memory"
            if let message { PQfreemem(message) }
            throw PostgresError(kind: .connection, message: "database_url: \(reason.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            let name = String(cString: keyword)
            if Self.keywords.contains(name), let value = option.pointee.val {
                try set(name, String(cString: value))
            }
            option += 1
        }
    }

    private mutating func set(_ keyword: String, _ text: String) throws {
        // libpq reads a keepalive setting of 0 as the kernel's default (7200 s idle), which the
        // bound below could not know; tcp_user_timeout=0 (the kernel's) is not part of it.
        let least = keyword == "tcp_user_timeout" ? 0 : 1
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= least, value <= 86_400_000 else {
            throw PostgresError(kind: .connection, message: "database_url: \(keyword)=\(text) is not a whole number of at least \(least)")
        }
        switch keyword {
        case "keepalives_idle": keepalivesIdle = value
        case "keepalives_interval": keepalivesInterval = value
        case "keepalives_count": keepalivesCount = value
        default: tcpUserTimeout = value
        }
        fromConninfo.insert(keyword)
    }

    /// Seconds of silence after which a connection counts as dead: what
    /// keepalives take to give up on a vanished peer (idle + interval × count).
    /// The daemon holds a server that answers probes but not queries to the same bound.
    public var silenceBound: Double { Double(keepalivesIdle + keepalivesInterval * keepalivesCount) }

    /// The keywords and values passed to libpq ahead of the conninfo.
    var libpqDefaults: [(String, String)] {
        [
            ("keepalives_idle", "\(keepalivesIdle)"), ("keepalives_interval", "\(keepalivesInterval)"),
            ("keepalives_count", "\(keepalivesCount)"), ("tcp_user_timeout", "\(tcpUserTimeout)"),
        ]
    }

    /// One line for `check-config`: each value and whether the conninfo set it.
    public var summary: String {
        let values = libpqDefaults.map { keyword, value in
            "\(keyword)=\(value)" + (fromConninfo.contains(keyword) ? "" : " (default)")
        }
        return "network bounds: \(values.joined(separator: " ")); a silent connection is cut after \(Int(silenceBound)) s"
    }
}
