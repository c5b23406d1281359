import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Speaks systemd's `Type=notify` protocol by writing to `$NOTIFY_SOCKET`
/// directly (a datagram per state change); does nothing outside systemd.
/// Our own few lines rather than libsystemd's `sd_notify`: the protocol is
/// one datagram, and the daemon then needs no libsystemd at build or run time.
struct SystemdNotifier: Sendable {
    let socketPath: String?
    /// `$WATCHDOG_USEC` when systemd expects `WATCHDOG=1` from this process.
    let watchdogInterval: Duration?

    init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        socketPath = path
        watchdogInterval = environment["WATCHDOG_USEC"].flatMap(UInt64.init).flatMap { usec in
            usec > 0 && forUs && path != nil ? .microseconds(Int64(clamping: usec)) : nil
        }
    }

    /// Sends `state` (`KEY=value` lines).
    func notify(_ state: String) {
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(socketPath.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout.offset(of: \sockaddr_un.sun_path)! + bytes.count)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                state.withCString { sendto(fd, $0, strlen($0), 0, address, length) }
            }
        }
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC` systemd wants beside it.
    func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        notify("RELOADING=1\nMONOTONIC_USEC=\(Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000)")
    }
}
