import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on loopback in front of the test PostgreSQL (its Unix socket,
/// or its TCP address), with network faults switched at run time:
/// - `pass`: new connections are forwarded;
/// - `stall()`: every open connection, and each one accepted until `pass()`,
///   stops forwarding in both directions for good while its sockets stay
///   open (a half-open, silent network: this kernel still acknowledges
///   data and keepalive probes, nothing reaches the other side);
/// - `reset()`: every open connection is reset (SO_LINGER 0, then close);
/// - `refuse()`: each new connection is reset as soon as it is accepted.
///
/// A connection stalled once never forwards again, so a daemon only gets
/// through after `pass()` on connections it opened anew.
final class FaultProxy: @unchecked Sendable {
    enum Mode { case pass, stall, refuse }

    /// The loopback port it listens on.
    let port: UInt16
    private let listener: Int32
    private let upstream: Upstream
    private let state = Mutex(State())

    private struct State {
        var mode = Mode.pass
        var links: [Link] = []
        var closed = false
    }

    private enum Upstream {
        case unix(String)
        case tcp(String, UInt16)
    }

    /// A proxy to the server of `TestPostgres`.
    init() throws {
        upstream = try Self.upstream(of: TestPostgres.running().conninfo)
        (listener, port) = try Loopback.listen()
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    /// `database` (a conninfo of `TestPostgres.makeDatabase`) reached through the proxy.
    func conninfo(_ database: String) -> String { database + " host=127.0.0.1 port=\(port)" }

    func pass() { state.withLock { $0.mode = .pass } }
    func refuse() { state.withLock { $0.mode = .refuse } }

    func stall() {
        state.withLock { state in
            state.mode = .stall
            state.links.forEach { $0.frozen.store(true, ordering: .relaxed) }
        }
    }

    /// Resets every open connection; new ones are forwarded (unless refused or stalled).
    func reset() {
        let links = state.withLock { state in
            defer { state.links.removeAll() }
            return state.links
        }
        links.forEach { $0.end(reset: true) }
    }

    /// Stops accepting and closes every connection.
    func stop() {
        let links = state.withLock { state in
            defer { state.links.removeAll(); state.closed = true }
            return state.links
        }
        links.forEach { $0.end(reset: false) }
    }

    private func acceptLoop() {
        Loopback.serve(listener, until: { state.withLock { $0.closed } }) { client in
            let mode = state.withLock { $0.mode }
            guard mode != .refuse, let server = try? connectUpstream() else {
                Link.resetAndClose(client)
                return
            }
            let link = Link(client: client, server: server)
            let stalled = state.withLock { state in
                state.links.removeAll { $0.ended.load(ordering: .relaxed) }
                state.links.append(link)
                return state.mode == .stall
            }
            link.frozen.store(stalled, ordering: .relaxed)
            Thread { link.pump(from: client, to: server) }.start()
            Thread { link.pump(from: server, to: client) }.start()
        }
    }

    private func connectUpstream() throws -> Int32 {
        switch upstream {
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: Array(path.utf8.prefix(raw.count - 1)) + [0])
            }
            return try Self.dial(AF_UNIX, &address, describing: path)
        case .tcp(let host, let port):
            var address = Loopback.address(port: port)
            guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
                throw TestSetupError("proxy: the test server's host \(host) is not an IPv4 address")
            }
            return try Self.dial(AF_INET, &address, describing: "\(host):\(port)")
        }
    }

    /// A socket of `family` connected to `address`.
    private static func dial<Address>(_ family: Int32, _ address: inout Address, describing: String) throws -> Int32 {
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw TestSetupError("proxy cannot reach \(describing): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    /// The server's address from a key=value conninfo (`host=/dir port=5432 …`).
    private static func upstream(of conninfo: String) throws -> Upstream {
        var words: [String: String] = [:]
        for word in conninfo.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { words[parts[0]] = parts[1] }
        }
        let host = words["host"] ?? "/var/run/postgresql"
        guard let port = UInt16(words["port"] ?? "5432") else { throw TestSetupError("proxy: no port in \(conninfo)") }
        return host.hasPrefix("/") ? .unix("\(host)/.s.PGSQL.\(port)") : .tcp(host, port)
    }
}

/// One proxied connection: two pump threads, the last of which closes both sockets.
private final class Link: Sendable {
    let client: Int32
    let server: Int32
    let frozen = Atomic<Bool>(false)
    let ended = Atomic<Bool>(false)
    private let reset = Atomic<Bool>(false)
    private let pumps = Atomic<Int>(2)

    init(client: Int32, server: Int32) {
        self.client = client
        self.server = server
    }

    /// Ends both pumps; with `reset`, both sockets are closed with an RST.
    func end(reset: Bool) {
        self.reset.store(reset, ordering: .relaxed)
        ended.store(true, ordering: .relaxed)
    }

    /// Forwards `from` to `to` until either side closes or the link ends; while frozen, reads nothing.
    func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        pumping: while !ended.load(ordering: .relaxed) {
            var descriptor = pollfd(fd: from, events: Int16(POLLIN), revents: 0)
            guard !frozen.load(ordering: .relaxed), poll(&descriptor, 1, 20) > 0, !frozen.load(ordering: .relaxed) else {
                if frozen.load(ordering: .relaxed) { usleep(20_000) }
                continue
            }
            let count = read(from, &buffer, buffer.count)
            guard count > 0 else { break }
            var sent = 0
            while sent < count {
                let written = buffer[sent..<count].withUnsafeBytes { write(to, $0.baseAddress, $0.count) }
                guard written > 0 else { break pumping }
                sent += written
            }
        }
        ended.store(true, ordering: .relaxed)
        guard pumps.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        if reset.load(ordering: .relaxed) {
            Self.resetAndClose(client)
            Self.resetAndClose(server)
        } else {
            close(client)
            close(server)
        }
    }

    /// Closes with SO_LINGER 0: the peer gets an RST, not a FIN.
    static func resetAndClose(_ descriptor: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close(descriptor)
    }
}
