import ConveyorProtocol
import Glibc

/// A client connection to the admin socket: a plain POSIX `AF_UNIX` stream socket that
/// reads and writes newline-terminated lines.
///
/// After connecting, the socket is non-blocking and every wait goes through `poll` with a
/// deadline, so one `--timeout` bounds the whole exchange however the bytes are split
/// across reads.
final class AdminConnection {
    private let descriptor: Int32
    /// Bytes read and not yet returned; the lines already returned end before `start`.
    private var buffer: [UInt8] = []
    private var start = 0
    /// Bytes from `start` already searched for a newline.
    private var scanned = 0
    private var chunk = [UInt8](repeating: 0, count: 64 << 10)

    /// Connects to the socket at `path`; `timeout` bounds the wait when the daemon's
    /// listen backlog is full.
    init(path: String, timeout: Duration?) throws(Failure) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard !pathBytes.isEmpty, pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .cannotConnect(to: path, errorNumber: pathBytes.isEmpty ? ENOENT : ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }

        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .cannotConnect(to: path, errorNumber: errno) }
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            var limit = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0, fcntl(descriptor, F_SETFL, O_NONBLOCK) == 0 else {
            throw .cannotConnect(to: path, errorNumber: errno)
        }
    }

    deinit {
        close(descriptor)
    }

    /// Whether the daemon has closed the connection (an idle one, after `idle_timeout`)
    /// with nothing left to read; asks the socket without waiting.
    var isClosedByPeer: Bool {
        guard start == buffer.count else { return false }
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&request, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) <= 0
    }

    /// The next line without its newline, or `nil` when the daemon closed the connection
    /// at a line boundary.
    ///
    /// - Throws: `timeout` past `deadline` (`nil`: no limit); `internal` for a line longer
    ///   than ``Limits/maxResponseLineBytes``; `unavailable` when the connection breaks or
    ///   closes in the middle of a line.
    func readLine(until deadline: ContinuousClock.Instant?) throws(Failure) -> String? {
        while true {
            if let newline = buffer[(start + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[start..<newline], as: UTF8.self)
                start = newline + 1
                scanned = 0
                return line
            }
            scanned = buffer.count - start
            guard scanned <= Limits.maxResponseLineBytes else {
                throw Failure(
                    .internal, "a line from the daemon is longer than \(Limits.maxResponseLineBytes >> 20) MiB")
            }
            buffer.removeFirst(start)
            start = 0

            try wait(for: POLLIN, until: deadline)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            switch count {
            case 0 where buffer.isEmpty:
                return nil
            case 0:
                throw Failure(.unavailable, "the daemon closed the connection in the middle of a line")
            case ..<0 where errno == EINTR || errno == EAGAIN:
                continue
            case ..<0:
                throw .systemCall("read", errorNumber: errno)
            default:
                buffer.append(contentsOf: chunk[..<count])
            }
        }
    }

    /// Sends `line` and a newline, however many writes it takes.
    func send(line: String, until deadline: ContinuousClock.Instant?) throws(Failure) {
        var bytes = Array((line + "\n").utf8)[...]
        while !bytes.isEmpty {
            let count = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count >= 0 {
                bytes = bytes.dropFirst(count)
            } else if errno == EAGAIN {
                try wait(for: POLLOUT, until: deadline)
            } else if errno != EINTR {
                throw .systemCall("send", errorNumber: errno)
            }
        }
    }

    /// Waits until the socket is ready for `events` (or has an error or hang-up, which the
    /// following read or send reports).
    private func wait(for events: Int32, until deadline: ContinuousClock.Instant?) throws(Failure) {
        while true {
            var request = pollfd(fd: descriptor, events: Int16(events), revents: 0)
            let ready = poll(&request, 1, deadline.map(Self.milliseconds(until:)) ?? -1)
            if ready > 0 { return }
            if ready == 0 { throw Failure(.timeout, "no answer from the daemon within --timeout") }
            if errno != EINTR { throw .systemCall("poll", errorNumber: errno) }
        }
    }

    /// Milliseconds from now to `deadline`, rounded up, 0 when it has passed.
    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = deadline - .now
        guard remaining > .zero else { return 0 }
        let (seconds, attoseconds) = remaining.components
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: millis)
    }
}
