import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking client of the daemon's admin socket for the admin scenarios:
/// connects, reads the greeting, writes request lines and reads answer lines.
/// Small on purpose: the figures must measure the daemon, not a client stack.
/// One thread reads at a time; `write` touches only the socket, so another
/// thread may write while one reads (the pipelined scenario does).
final class AdminSocketClient: @unchecked Sendable {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8.prefix(raw.count - 1))
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw BenchError("connect to \(path): \(reason)")
        }
        guard let greeting = try readLine(), greeting.contains("\"hello\"") else {
            close(descriptor)
            throw BenchError("no greeting from the daemon")
        }
    }

    deinit { close(descriptor) }

    /// Writes all of `text`.
    func write(_ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else {
                if count < 0 && errno == EINTR { continue }
                throw BenchError("write to the admin socket: \(String(cString: strerror(errno)))")
            }
            bytes = bytes.dropFirst(count)
        }
    }

    /// The next line without its newline, or nil when the daemon closed the connection.
    func readLine() throws -> String? {
        while true {
            if let line = bufferedLine() { return line }
            guard try fill() else { return nil }
        }
    }

    /// The next line already read from the socket, if a whole one is there.
    func bufferedLine() -> String? {
        guard let newline = buffer[start...].firstIndex(of: 10) else { return nil }
        let line = String(decoding: buffer[start..<newline], as: UTF8.self)
        start = newline + 1
        if start > 65_536 {
            buffer.removeFirst(start)
            start = 0
        }
        return line
    }

    /// Reads what the socket has (blocking until something arrives); false at end of stream.
    func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { return true }
            throw BenchError("read from the admin socket: \(String(cString: strerror(errno)))")
        }
        buffer.append(contentsOf: chunk[..<count])
        return count > 0
    }

    /// Sends one request line and returns its answer line.
    func ask(_ line: String) throws -> String {
        try write(line + "\n")
        guard let answer = try readLine() else { throw BenchError("the daemon closed the connection") }
        return answer
    }
}
