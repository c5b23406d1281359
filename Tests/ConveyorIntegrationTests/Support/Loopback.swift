#if canImport(Glibc)
import Glibc
#endif

/// TCP on 127.0.0.1 for the test servers and proxies.
enum Loopback {
    /// A listening socket on a free loopback port, and the port.
    static func listen() throws -> (descriptor: Int32, port: UInt16) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw TestSetupError("loopback socket: \(String(cString: strerror(errno)))") }
        var address = Self.address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(listener, address, length) == 0 && Glibc.listen(listener, 128) == 0 && getsockname(listener, address, &length) == 0
            }
        }
        guard bound else {
            close(listener)
            throw TestSetupError("loopback bind/listen: \(String(cString: strerror(errno)))")
        }
        return (listener, UInt16(bigEndian: address.sin_port))
    }

    /// Accepts connections on `listener` (looking every 50 ms) and hands
    /// each to `accepted`, until `stopped()`; then closes the listener.
    static func serve(_ listener: Int32, until stopped: () -> Bool, _ accepted: (Int32) -> Void) {
        defer { close(listener) }
        while !stopped() {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 50) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            accepted(client)
        }
    }

    /// 127.0.0.1 at `port`.
    static func address(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
