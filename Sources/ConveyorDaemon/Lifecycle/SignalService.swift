import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// SIGTERM/SIGINT: graceful shutdown (stop claiming, finish in-flight
/// batches, close the socket, exit 0); a second one exits at once (open
/// transactions roll back when their connections drop). SIGHUP: reload.
struct SignalService: Service {
    /// Created before the other services start, so no signal is missed.
    let signals: UnixSignalsSequence
    let trigger: ShutdownTrigger
    let reload: @Sendable () async -> Void
    let socketPath: String
    let logger: Logger

    func run() async throws {
        // Ends when the group reaches this service, which is last to be shut
        // down (first in the group), so a second signal is seen meanwhile.
        for await signal in signals.cancelOnGracefulShutdown() {
            switch signal {
            case .sighup:
                logger.info("SIGHUP: reloading configuration")
                await reload()
            default:
                if await trigger.trigger() {
                    logger.notice("shutting down gracefully; send the signal again to exit at once", metadata: ["signal": "\(signal)"])
                } else {
                    logger.warning("second shutdown signal: exiting now", metadata: ["signal": "\(signal)"])
                    unlink(socketPath)
                    unlink(socketPath + ".lock")
                    exit(1)
                }
            }
        }
    }
}
