import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A server on loopback that lets a libpq client connect (no TLS, no
/// password: it answers the startup message with AuthenticationOk and
/// ReadyForQuery) and then never answers again, its connections held open:
/// a server, or a network, that stalls right after a connection was made.
final class MuteServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let state = Mutex((closed: false, clients: [Int32]()))

    init() throws {
        (listener, port) = try Loopback.listen()
        Thread { [self] in serve() }.start()
    }

    deinit { stop() }

    /// A conninfo that reaches it without TLS or GSS negotiation.
    var conninfo: String { "host=127.0.0.1 port=\(port) user=mute dbname=mute sslmode=disable gssencmode=disable" }

    /// Stops accepting and closes every connection.
    func stop() {
        let clients = state.withLock { state in
            defer { state = (true, []) }
            return state.clients
        }
        clients.forEach { close($0) }
    }

    private func serve() {
        Loopback.serve(listener, until: { state.withLock { $0.closed } }) { client in
            state.withLock { $0.clients.append(client) }
            guard Self.skipStartupMessage(client) else { return }
            // AuthenticationOk ('R', length 8, 0), then ReadyForQuery ('Z', length 5, idle).
            let answer: [UInt8] = [0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5A, 0, 0, 0, 5, 0x49]
            _ = answer.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        }
    }

    /// Reads the startup message: its length (4 bytes, big-endian, counting itself), then the rest.
    private static func skipStartupMessage(_ client: Int32) -> Bool {
        guard let header = read(client, count: 4) else { return false }
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        return length >= 8 && length <= 10_000 && read(client, count: length - 4) != nil
    }

    private static func read(_ client: Int32, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = bytes[got...].withUnsafeMutableBytes { Glibc.read(client, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            got += n
        }
        return bytes
    }
}
