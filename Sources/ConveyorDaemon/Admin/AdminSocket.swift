import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Creates the admin socket the safe way: directory 0750, a lock file so two
/// daemons never share a path (taken first, at start-up), a connect probe
/// before removing a leftover socket (a live one is never unlinked), then
/// bind → chmod/chown → listen when the server starts.
struct AdminSocket: Sendable {
    let path: String
    /// The group id of `socket_group`, for the socket and a directory we create.
    private let groupID: gid_t?
    private let lockDescriptor: Int32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(path: String, group: String?) throws {
        self.path = path
        groupID = try group.map { group in
            guard let entry = getgrnam(group) else { throw Failure(description: "unknown socket_group \(group)") }
            return entry.pointee.gr_gid
        }
        let directory = (path as NSString).deletingLastPathComponent
        try Self.ensureDirectory(directory.isEmpty ? "." : directory, groupID: groupID)
        lockDescriptor = open(path + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lockDescriptor >= 0 else { throw Failure(description: "cannot open \(path).lock: \(Self.lastError)") }
        guard flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(lockDescriptor)
            throw Failure(description: "another conveyord is serving \(path) (its lock file is held)")
        }
        do {
            try Self.removeStaleSocket(path)
        } catch {
            close(lockDescriptor)
            throw error
        }
    }

    /// Binds, sets mode and group, listens; returns the descriptor for SwiftNIO.
    func listen() throws -> Int32 {
        try Self.bindAndListen(path: path, groupID: groupID)
    }

    /// Removes the socket file and releases the lock (the listener is closed by NIO).
    func remove() {
        unlink(path)
        unlink(path + ".lock")
        close(lockDescriptor)
    }

    private static var lastError: String { String(cString: strerror(errno)) }

    /// An existing directory (systemd's `RuntimeDirectory`) is used as it is;
    /// one we create is 0750 and belongs to the socket's group, so that the
    /// group's members can reach the socket inside it.
    private static func ensureDirectory(_ directory: String, groupID: gid_t?) throws {
        var info = stat()
        if stat(directory, &info) == 0 { return }
        guard mkdir(directory, 0o750) == 0 || errno == EEXIST else {
            throw Failure(description: "cannot create socket directory \(directory): \(lastError)")
        }
        chmod(directory, 0o750)
        if let groupID, chown(directory, uid_t.max, groupID) != 0 {
            throw Failure(description: "cannot give socket directory \(directory) to its socket_group: \(lastError)")
        }
    }

    private static func removeStaleSocket(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw Failure(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(probe) }
        let live = withAddress(path) { address, length in connect(probe, address, length) == 0 }
        guard !live else { throw Failure(description: "\(path) is served by a live process; refusing to replace it") }
        unlink(path)
    }

    private static func bindAndListen(path: String, groupID: gid_t?) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "cannot create socket: \(lastError)") }
        do {
            guard withAddress(path, { bind(fd, $0, $1) == 0 }) else {
                throw Failure(description: "cannot bind \(path): \(lastError)")
            }
            guard chmod(path, 0o660) == 0 else { throw Failure(description: "cannot chmod \(path): \(lastError)") }
            if let groupID, chown(path, uid_t.max, groupID) != 0 {
                throw Failure(description: "cannot chown \(path) to its socket_group: \(lastError)")
            }
            guard Glibc.listen(fd, 128) == 0 else { throw Failure(description: "cannot listen on \(path): \(lastError)") }
            return fd
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
    }

    private static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
