import ConveyorPostgres
import ConveyorStore
import Foundation
import Synchronization

/// A real PostgreSQL for the tests: the one named by
/// `CONVEYOR_TEST_DATABASE_URL` (a superuser conninfo without dbname), or a
/// throwaway server this test process starts itself (initdb in a temporary
/// folder, Unix socket only, fsync off; as root the tools run as the
/// `postgres` user) and stops at exit. If it cannot start, every test that
/// needs it fails with the reason: nothing is skipped.
///
/// Each test gets a fresh database cloned from a migrated template.
enum TestPostgres {
    struct Server: Sendable {
        /// Conninfo without dbname.
        let conninfo: String
        /// Set when this process started the server.
        let directory: String?
        let binaries: String
    }

    private static let server: Result<Server, any Error> = Result { try start() }
    private static let counter = Atomic<Int>(0)
    private static let creation = Mutex(())

    /// A new, migrated, empty database; returns its conninfo.
    static func makeDatabase() throws -> String {
        let server = try server.get()
        let name = "t_\(getpid())_\(counter.add(1, ordering: .relaxed).newValue)"
        try creation.withLock { _ in
            let admin = try PostgresConnection(conninfo: server.conninfo + " dbname=postgres")
            try admin.execute("CREATE DATABASE \(name) TEMPLATE conveyor_template")
        }
        return server.conninfo + " dbname=\(name)"
    }

    /// Opens a connection to a database made by `makeDatabase`.
    static func connect(_ conninfo: String) throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo, applicationName: "conveyor-tests")
    }

    /// The running server (for tests that restart it).
    static func running() throws -> Server { try server.get() }

    /// Restarts the throwaway server (fast shutdown: connections drop).
    static func restart() throws {
        let server = try server.get()
        guard let directory = server.directory else {
            throw TestSetupError("cannot restart a server named by CONVEYOR_TEST_DATABASE_URL")
        }
        try pgctl(server.binaries, ["-D", directory + "/data", "-m", "fast", "-w", "restart"], directory: directory)
    }

    private static func start() throws -> Server {
        let environment = ProcessInfo.processInfo.environment
        let binaries = try findBinaries()
        if let url = environment["CONVEYOR_TEST_DATABASE_URL"], !url.isEmpty {
            let server = Server(conninfo: url, directory: nil, binaries: binaries)
            try makeTemplate(server)
            return server
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-pg-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try run("/bin/chown", ["postgres:postgres", directory]) }
        try run(binaries + "/initdb", ["-D", directory + "/data", "-U", "postgres", "-A", "trust", "--no-sync"], asPostgres: true)
        let options = "-k \(directory) -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=200"
        try pgctl(binaries, ["-D", directory + "/data", "-o", options, "-l", directory + "/log", "-w", "start"], directory: directory)
        stopAtExitDirectory = strdup(directory)
        stopAtExitBinaries = strdup(binaries)
        atexit {
            guard let directory = stopAtExitDirectory.map({ String(cString: $0) }),
                  let binaries = stopAtExitBinaries.map({ String(cString: $0) }) else { return }
            try? TestPostgres.pgctl(binaries, ["-D", directory + "/data", "-m", "immediate", "stop"], directory: directory)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let server = Server(conninfo: "host=\(directory) port=5432 user=postgres", directory: directory, binaries: binaries)
        try makeTemplate(server)
        return server
    }

    private static func makeTemplate(_ server: Server) throws {
        let admin = try PostgresConnection(conninfo: server.conninfo + " dbname=postgres")
        try admin.execute("DROP DATABASE IF EXISTS conveyor_template")
        try admin.execute("CREATE DATABASE conveyor_template")
        let template = try PostgresConnection(conninfo: server.conninfo + " dbname=conveyor_template")
        try Migrator().migrate(template)
    }

    static func pgctl(_ binaries: String, _ arguments: [String], directory: String) throws {
        try run(binaries + "/pg_ctl", arguments, asPostgres: true)
    }

    /// The newest PostgreSQL server's bin folder under /usr/lib/postgresql.
    static func findBinaries() throws -> String {
        let candidates = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in candidates.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let directory = "/usr/lib/postgresql/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: directory + "/initdb") { return directory }
        }
        throw TestSetupError("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)")
    }

    /// Runs a tool, as the postgres user when we are root; throws with its output on failure.
    static func run(_ tool: String, _ arguments: [String], asPostgres: Bool = false) throws {
        let argv = asPostgres && getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", tool] + arguments : [tool] + arguments
        // Output goes to files, not pipes: a server started by pg_ctl would hold a pipe open forever.
        let result = try Spawn.run(argv, timeout: .seconds(300))
        guard result.status == 0 else {
            throw TestSetupError("\(tool) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stdout)\(result.stderr)")
        }
    }
}

nonisolated(unsafe) private var stopAtExitDirectory: UnsafeMutablePointer<CChar>?
nonisolated(unsafe) private var stopAtExitBinaries: UnsafeMutablePointer<CChar>?

/// Why the test environment could not be set up.
struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
