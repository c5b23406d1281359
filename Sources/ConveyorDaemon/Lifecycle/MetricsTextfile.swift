import Foundation
import Logging
import ServiceLifecycle

/// Writes the `metrics` exposition to `metrics_textfile` every
/// `metrics_textfile_interval`, for node_exporter's textfile collector: to a
/// temporary file in the same directory, then renamed over the target, so a
/// reader sees the old file or the new one, never half of one. A failed write
/// is logged and tried again next time; the file is removed at shutdown, so
/// a stopped daemon's figures do not look current.
struct MetricsTextfile: Service {
    let path: String
    let interval: Duration
    let context: DaemonContext
    let logger: Logger

    func run() async throws {
        var failing = false
        repeat {
            do {
                // The exposition says conveyor_database_up 0 when the database is away; no warning every round.
                try Self.write(await MetricsExposition.all(context, logging: false), to: path)
                if failing { logger.notice("metrics textfile written again", metadata: ["path": "\(path)"]) }
                failing = false
            } catch {
                if !failing { logger.warning("cannot write the metrics textfile; will retry", metadata: ["path": "\(path)", "error": "\(error)"]) }
                failing = true
            }
        } while await pauseUnlessShuttingDown(for: interval)
        unlink(path)
    }

    /// Writes `text` beside `path` and renames it into place.
    static func write(_ text: String, to path: String) throws {
        let temporary = path + ".\(getpid()).tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
