import Foundation
import Glibc

/// A stand-in for conveyord on a Unix socket in a temporary directory: greets every
/// connection and answers each request line with the lines `answer` gives; it closes the
/// connection when they are none, or after each answer with `closesAfterAnswer`.
final class FakeDaemon: @unchecked Sendable {
    let directory: String
    var socketPath: String { directory + "/admin.sock" }
    private let listener: Int32
    private let answer: @Sendable (String) -> [String]
    private let closesAfterAnswer: Bool
    private let lock = NSLock()
    private var accepted = 0

    /// How many connections were accepted so far.
    var connections: Int { lock.withLock { accepted } }

    init(closesAfterAnswer: Bool = false, answer: @escaping @Sendable (String) -> [String]) throws {
        self.closesAfterAnswer = closesAfterAnswer
        directory = try FileManager.default.url(
            for: .itemReplacementDirectory, in: .userDomainMask, appropriateFor: URL(fileURLWithPath: "/tmp"), create: true
        ).path
        self.answer = answer
        listener = try Self.bound(directory + "/admin.sock")
        guard listen(listener, 8) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A socket bound to `path` (not listening: connecting to it is refused).
    static func bound(_ path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard descriptor >= 0, result == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        return descriptor
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            lock.withLock { accepted += 1 }
            Thread.detachNewThread { [self] in serve(connection) }
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        send(#"{"hello":"conveyord","proto":1,"version":"test","role":"admin"}"#, on: connection)
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(connection, &chunk, chunk.count)
            guard count > 0 else { return }
            buffer += chunk[..<count]
            while let newline = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                let lines = answer(line)
                for reply in lines { send(reply, on: connection) }
                if lines.isEmpty || closesAfterAnswer { return }
            }
        }
    }

    private func send(_ line: String, on connection: Int32) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
