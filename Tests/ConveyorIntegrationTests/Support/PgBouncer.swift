import ConveyorPostgres
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A PgBouncer of the test's own in front of the test PostgreSQL: its own ini
/// file, log and pid file in a temporary folder, listening on a free loopback
/// port (not the Debian package's service). Every database of the server is
/// reachable through it by name (`* =` in `[databases]`), with `auth_type = any`.
/// As root it runs as the `postgres` user (`-u`: PgBouncer refuses root).
///
/// `application_name_add_host` appends the client's address to each server
/// session's `application_name`, so `pg_stat_activity` shows which sessions
/// came through it. Always `stop()` it; deinit kills it as a last resort.
final class PgBouncer {
    static let binary = "/usr/sbin/pgbouncer"

    let mode: String
    let port: Int
    let directory: String
    private let pid: pid_t
    private var exited = false

    /// Starts PgBouncer with `pool_mode = mode` (`session`, `transaction`, `statement`)
    /// and waits until it accepts connections; throws with its log when it does not.
    init(mode: String) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw TestSetupError("\(Self.binary) not found: run scripts/install-deps (apt-get install pgbouncer)")
        }
        let server = try TestPostgres.running()
        self.mode = mode
        directory = try TemporaryDirectory.make("cvy-pgb")
        if getuid() == 0 { try TestPostgres.run("/bin/chown", ["postgres:postgres", directory]) }
        port = try WebhookTest.closedPort()
        let ini = directory + "/pgbouncer.ini"
        try Files.write(ini, """
            [databases]
            * = \(server.conninfo)

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = any
            pool_mode = \(mode)
            default_pool_size = 60
            max_client_conn = 300
            application_name_add_host = 1
            logfile = \(directory)/pgbouncer.log
            pidfile = \(directory)/pgbouncer.pid

            """)
        let argv = [Self.binary] + (getuid() == 0 ? ["-u", "postgres"] : []) + [ini]
        pid = try Spawn.start(argv, stdout: directory + "/output", stderr: directory + "/output")
        do {
            try waitUntilReady()
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// The conninfo of `database` (a conninfo from `TestPostgres.makeDatabase`) through this PgBouncer.
    func conninfo(for database: String) throws -> String {
        guard let name = database.split(separator: " ").last(where: { $0.hasPrefix("dbname=") }) else {
            throw TestSetupError("no dbname in \(database)")
        }
        return "host=127.0.0.1 port=\(port) \(name) user=postgres"
    }

    /// PgBouncer's own log and output so far.
    var log: String {
        ["pgbouncer.log", "output"].map { (try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8)) ?? "" }
            .joined(separator: "\n")
    }

    /// SIGTERM (PgBouncer's fast exit), SIGKILL if it is still there after 5 s; removes its folder. Idempotent.
    func stop() {
        if !exited {
            exited = true
            kill(pid, SIGTERM)
            if Spawn.wait(pid, timeout: .seconds(5)) == nil {
                kill(pid, SIGKILL)
                _ = Spawn.wait(pid, timeout: .seconds(5))
            }
        }
        TemporaryDirectory.remove(directory)
    }

    /// Waits (at most 30 s, a hang guard) until a connection through it reaches the server's `postgres` database.
    private func waitUntilReady() throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let status = Spawn.poll(pid) {
                exited = true
                throw TestSetupError("pgbouncer exited with status \(status) at start; log:\n\(log)")
            }
            if (try? PostgresConnection(conninfo: "host=127.0.0.1 port=\(port) dbname=postgres user=postgres connect_timeout=2")) != nil {
                return
            }
            if ContinuousClock.now >= deadline {
                throw TestSetupError("pgbouncer did not accept connections on 127.0.0.1:\(port) within 30 s; log:\n\(log)")
            }
            usleep(20_000)
        }
    }
}
