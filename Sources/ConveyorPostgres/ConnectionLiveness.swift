#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// What another thread may know and do about one `PostgresConnection`
/// while its owner is blocked in libpq: whether it waits for an answer and
/// since when, which server process serves it, and `cut()`, which shuts its
/// socket down so that the blocked call returns with a lost connection.
/// The connection disarms it before it closes, so a cut never reaches a
/// descriptor that was reused.
public final class ConnectionLiveness: Sendable {
    public let waits: ServerWaits
    /// The server process serving the connection.
    public let backendPID: Int32
    private let socket: Mutex<Int32?>

    init(waits: ServerWaits, backendPID: Int32, socket: Int32) {
        self.waits = waits
        self.backendPID = backendPID
        self.socket = Mutex(socket >= 0 ? socket : nil)
    }

    /// Shuts the socket down in both directions (the descriptor stays open
    /// until the owner closes the connection); false once disarmed.
    @discardableResult
    public func cut() -> Bool {
        socket.withLock { socket in
            guard let socket else { return false }
            return shutdown(socket, Int32(SHUT_RDWR)) == 0
        }
    }

    /// Called by the connection before it closes its socket.
    func disarm() {
        socket.withLock { $0 = nil }
    }
}
