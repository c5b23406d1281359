import ConveyorPostgres
import Foundation
import Synchronization

extension TestPostgres {
    private static let emptyCounter = Atomic<Int>(0)

    /// A new database on the test server with nothing of conveyor in it (no
    /// schema, no `schema_migrations`): for tests of the migrator itself.
    /// Copied from `template0`, which nobody connects to, so it never races
    /// `makeDatabase`'s copies of the migrated template.
    static func makeEmptyDatabase() throws -> String {
        let server = try running()
        let name = "e_\(getpid())_\(emptyCounter.add(1, ordering: .relaxed).newValue)"
        let admin = try PostgresConnection(conninfo: server.conninfo + " dbname=postgres")
        try admin.execute("CREATE DATABASE \(name) TEMPLATE template0")
        return server.conninfo + " dbname=\(name)"
    }

    /// Runs `body` on `count` threads of their own (libpq blocks, so never on
    /// Swift's cooperative pool), each with its own connection from
    /// `connect`. Every thread connects first; then all are released at once,
    /// `whileRunning` runs on the calling thread, and the call returns when
    /// every thread has finished: the results in thread order.
    static func onThreads<T: Sendable>(
        _ count: Int,
        connect: @escaping @Sendable () throws -> PostgresConnection,
        whileRunning: () -> Void = {},
        _ body: @escaping @Sendable (Int, PostgresConnection) throws -> T
    ) -> [Result<T, any Error>] {
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        let ready = DispatchGroup()
        let finished = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        for index in 0..<count {
            ready.enter()
            finished.enter()
            let thread = Thread {
                let connection = Result { try connect() }
                ready.leave()
                go.wait()
                let result = connection.flatMap { connection in Result { try body(index, connection) } }
                results.withLock { $0[index] = result }
                finished.leave()
            }
            thread.start()
        }
        ready.wait()
        for _ in 0..<count { go.signal() }
        whileRunning()
        finished.wait()
        return results.withLock { collected in (0..<count).map { collected[$0]! } }
    }
}
