import CLibPQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A named statement that is prepared once per connection on first use, and
/// what it declares to return; the connection checks each result against it.
public struct PreparedStatement: Sendable, Hashable {
    /// What a statement returns (the `:one`, `:optional`, `:many`, `:exec`
    /// and `:script` tags of the SQL files).
    public enum Rows: String, Sendable, Hashable {
        /// Exactly one row.
        case one
        /// No row or one.
        case optional
        /// Any number of rows.
        case many
        /// No rows (a write without `returning`).
        case none
        /// Simple-query text (several or utility statements), run by `execute`.
        case script
    }

    public let name: String
    public let rows: Rows
    public let sql: String
    public init(name: String, rows: Rows, sql: String) {
        self.name = name
        self.rows = rows
        self.sql = sql
    }

    /// Throws when `count` rows break the declaration.
    func check(_ count: Int) throws {
        let fits = switch rows {
        case .one: count == 1
        case .optional: count <= 1
        case .many: true
        case .none, .script: count == 0
        }
        guard fits else {
            throw PostgresError(kind: .decoding, message: "query \(name) returned \(count) rows; it declares :\(rows.rawValue)")
        }
    }
}

/// A notification received on a `LISTEN`ed channel.
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    public let senderPID: Int32
}

/// One blocking libpq connection. Owns its `PGconn` and finishes it exactly
/// once, also after a failed connect.
///
/// libpq blocks, so a connection must never be used from Swift's cooperative
/// thread pool: give it one owner thread (see `ConnectionPool`), or use
/// it from a thread of your own.
public final class PostgresConnection {
    private let handle: OpaquePointer
    private var preparedNames: Set<String> = []
    /// Transaction commands (`BEGIN`, `SAVEPOINT`, `RELEASE SAVEPOINT`) not
    /// sent yet: each goes to the server with the next statement, before it
    /// and in one round trip (in its pipeline, or ahead of `execute`'s text),
    /// so it acts as if sent alone. A statement's first preparation sends
    /// them first, on their own. A savepoint that ends before any statement
    /// was sent costs nothing.
    private var deferred: [String] = []
    /// When this connection waits for the server (every blocking libpq call).
    public let waits = ServerWaits()
    /// What a watchdog on another thread may know and do about this connection.
    public let liveness: ConnectionLiveness

    /// Connects with a libpq conninfo string or URI (multi-host strings and
    /// `target_session_attrs` pass through untouched); nil or empty uses
    /// libpq's own `PG*` environment variables. `connect_timeout=10` and
    /// `NetworkBounds.defaults` apply unless the conninfo sets its own;
    /// `overrides` win over the conninfo.
    public init(conninfo: String?, applicationName: String = "conveyor", overrides: [(String, String)] = []) throws {
        let defaults = [("connect_timeout", "10"), ("fallback_application_name", applicationName)]
            + NetworkBounds.defaults.libpqDefaults
        var keywords = defaults.map(\.0)
        var values = defaults.map(\.1)
        if let conninfo, !conninfo.isEmpty {
            // Entries after an expanded dbname override it; these come first so the user's string wins.
            keywords.append("dbname")
            values.append(conninfo)
        }
        keywords += overrides.map(\.0)
        values += overrides.map(\.1)
        let connection = Self.withCStringArray(keywords) { keywordPointers in
            Self.withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connection, message: "could not connect: out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let error = PostgresError.connection(connection, context: "could not connect to PostgreSQL")
            PQfinish(connection)
            throw error
        }
        // libpq would print server notices (and the FATAL of a server that
        // shuts down) straight to stderr, breaking structured logs; the
        // errors that matter reach the caller as PostgresError anyway.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        let serverPID: Int32
        do {
            serverPID = try Self.setUpSession(connection)
        } catch {
            PQfinish(connection)
            throw error
        }
        handle = connection
        liveness = ConnectionLiveness(waits: waits, backendPID: serverPID, socket: PQsocket(connection))
    }

    /// Sets the session up so timestamps are read back in one known format, and
    /// returns the server process's id as the server reports it (in the same
    /// round trip): behind PgBouncer, `PQbackendPID` is the pooler's own cancel
    /// key, which names no server process. The answer must come within the
    /// connection's `connect_timeout` (none when it is 0): a network that
    /// stalls right after the connection is made would otherwise hold the
    /// caller for ever, before any watchdog knows of the connection.
    private static func setUpSession(_ connection: OpaquePointer) throws -> Int32 {
        let sql = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'iso_8601'; "
            + "SET client_min_messages = warning; SELECT pg_backend_pid()"
        guard PQsendQuery(connection, sql) == 1 else {
            throw PostgresError.connection(connection, context: "could not set up the session")
        }
        let seconds = connectTimeout(connection)
        let deadline = seconds > 0 ? ContinuousClock.now + .seconds(seconds) : nil
        var pid: Int32?
        while true {
            guard try awaitAnswer(connection, until: deadline) else {
                throw PostgresError(kind: .connection, message: "PostgreSQL did not answer within \(seconds) s while setting up the session")
            }
            guard let result = PQgetResult(connection) else { break }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK:
                continue
            case PGRES_TUPLES_OK:
                pid = PQgetvalue(result, 0, 0).flatMap { Int32(String(cString: $0)) }
            default:
                throw PostgresError.from(result: result, connection: connection)
            }
        }
        guard let pid else { throw PostgresError.connection(connection, context: "could not set up the session") }
        return pid
    }

    /// The connection's `connect_timeout` in seconds as libpq uses it (0: none).
    private static func connectTimeout(_ connection: OpaquePointer) -> Double {
        guard let options = PQconninfo(connection) else { return 0 }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "connect_timeout" {
                return option.pointee.val.flatMap { Double(String(cString: $0)) }.map { max(0, $0) } ?? 0
            }
            option += 1
        }
        return 0
    }

    /// Waits until libpq holds the next whole answer to what was sent on
    /// `connection`; false when `deadline` (nil: none) passed first.
    private static func awaitAnswer(_ connection: OpaquePointer, until deadline: ContinuousClock.Instant?) throws -> Bool {
        while PQisBusy(connection) == 1 {
            var timeout: Int32 = -1
            if let deadline {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { return false }
                timeout = Int32(max(1, left / .milliseconds(1)))
            }
            var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, timeout)
            guard PQconsumeInput(connection) == 1 else {
                throw PostgresError.connection(connection, context: "lost connection to PostgreSQL")
            }
        }
        return true
    }

    deinit {
        liveness.disarm()
        PQfinish(handle)
    }

    /// The server's version number (150018 for 15.18).
    public var serverVersion: Int { Int(PQserverVersion(handle)) }
    /// libpq's version number.
    public static var libraryVersion: Int { Int(PQlibVersion()) }
    /// The server process serving this connection (its own `pg_backend_pid()`).
    public var backendPID: Int32 { liveness.backendPID }
    /// True once libpq has seen the connection fail (or a pipeline could not be
    /// left); it must be replaced.
    public var isBroken: Bool { abandoned || PQstatus(handle) != CONNECTION_OK }
    /// Set when `pipeline` could not leave pipeline mode, or an answer was
    /// given up on: no plain query works any more.
    private var abandoned = false

    /// Reads whatever the server sent while the connection was idle, without
    /// waiting, so a connection the server closed (a restart) shows as
    /// broken before it is used; notifications stay queued.
    public func refreshStatus() {
        // A closing server sends its error first and the end of the stream
        // after it: read until nothing more is waiting.
        for _ in 0..<4 {
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0, PQconsumeInput(handle) == 1 else { return }
        }
    }
    /// True while a transaction is open or failed on this connection.
    public var inTransaction: Bool {
        guard deferred.isEmpty else { return true }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Runs one statement with `$n` parameters (text format).
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) throws -> PostgresRows {
        guard deferred.isEmpty else { return try afterDeferred([.text(sql, parameters)])[0] }
        let result = waits.during {
            Self.withParameters(parameters) { count, values in
                PQexecParams(handle, sql, count, nil, values, nil, nil, 0)
            }
        }
        return try check(result)
    }

    /// Runs one statement with `$n` parameters, giving up when its answer has
    /// not come within `seconds` (libpq's blocking calls would wait as long
    /// as TCP lets them). After a miss the connection is broken: close it.
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = [], within seconds: Double) throws -> PostgresRows {
        try sendDeferred()
        let sent = Self.withParameters(parameters) { count, values in
            PQsendQueryParams(handle, sql, count, nil, values, nil, nil, 0)
        }
        guard sent == 1 else { throw PostgresError.connection(handle, context: "cannot send a query") }
        guard try Self.awaitAnswer(handle, until: ContinuousClock.now + .seconds(seconds)) else {
            abandoned = true
            throw PostgresError(kind: .connection, message: "PostgreSQL did not answer within \(seconds) s")
        }
        let rows = try check(PQgetResult(handle))
        while let extra = PQgetResult(handle) { PQclear(extra) }
        return rows
    }

    /// Runs a prepared statement, preparing it on this connection on first use.
    @discardableResult
    public func query(_ statement: PreparedStatement, _ parameters: [any PostgresBindable] = []) throws -> PostgresRows {
        guard statement.rows != .script else {
            throw PostgresError(kind: .decoding, message: "query \(statement.name) is a script: run it with execute")
        }
        if !preparedNames.contains(statement.name) {
            try prepare(statement)
        }
        guard deferred.isEmpty else { return try afterDeferred([.prepared(statement, parameters)])[0] }
        let result = waits.during {
            Self.withParameters(parameters) { count, values in
                PQexecPrepared(handle, statement.name, count, values, nil, nil, 0)
            }
        }
        let rows = try check(result)
        try statement.check(rows.count)
        return rows
    }

    /// Runs prepared statements without parameters in one round trip (libpq's
    /// pipeline mode; outside a transaction the server runs them as one
    /// implicit transaction, and an error skips the rest): their rows, in
    /// order. The first error is thrown once the pipeline is done with.
    public func pipeline(_ statements: [PreparedStatement]) throws -> [PostgresRows] {
        try pipeline(statements.map { ($0, []) })
    }

    /// The same with parameters. Each statement runs after the one before
    /// it: inside a transaction, it sees what that one did or waited for.
    public func pipeline(_ statements: [(PreparedStatement, [any PostgresBindable])]) throws -> [PostgresRows] {
        for (statement, _) in statements where !preparedNames.contains(statement.name) {
            try prepare(statement)
        }
        return try afterDeferred(statements.map { .prepared($0.0, $0.1) })
    }

    /// The deferred commands, then `steps`, in one round trip: the steps' rows.
    private func afterDeferred(_ steps: [PipelineStep]) throws -> [PostgresRows] {
        let commands = takeDeferred().map { PipelineStep.text($0, []) }
        return Array(try waits.during { try pipelined(commands + steps) }.dropFirst(commands.count))
    }

    /// Sends the deferred commands on their own, for a call that cannot take
    /// them along (without a deadline: `query(_:_:within:)` is meant for
    /// use outside transactions).
    private func sendDeferred() throws {
        let commands = takeDeferred()
        guard !commands.isEmpty else { return }
        try check(waits.during { PQexec(handle, commands.joined(separator: "; ")) })
    }

    private func takeDeferred() -> [String] {
        defer { deferred.removeAll() }
        return deferred
    }

    /// One statement of a pipeline: SQL text or a prepared statement, with its parameters.
    private enum PipelineStep {
        case text(String, [any PostgresBindable])
        case prepared(PreparedStatement, [any PostgresBindable])

        var name: String {
            switch self {
            case .text(let sql, _): String(sql.prefix(40))
            case .prepared(let statement, _): statement.name
            }
        }

        func send(on handle: OpaquePointer) -> Bool {
            switch self {
            case .text(let sql, let parameters):
                PostgresConnection.withParameters(parameters) { count, values in
                    PQsendQueryParams(handle, sql, count, nil, values, nil, nil, 0)
                } == 1
            case .prepared(let statement, let parameters):
                PostgresConnection.withParameters(parameters) { count, values in
                    PQsendQueryPrepared(handle, statement.name, count, values, nil, nil, 0)
                } == 1
            }
        }

        func check(_ count: Int) throws {
            if case .prepared(let statement, _) = self { try statement.check(count) }
        }
    }

    /// Prepares `statement`, after the deferred commands: a PREPARE that
    /// fails must fail inside the savepoint it was meant for.
    private func prepare(_ statement: PreparedStatement) throws {
        try sendDeferred()
        try check(waits.during { PQprepare(handle, statement.name, statement.sql, 0, nil) })
        preparedNames.insert(statement.name)
    }

    private func pipelined(_ steps: [PipelineStep]) throws -> [PostgresRows] {
        guard PQenterPipelineMode(handle) == 1 else {
            throw PostgresError.connection(handle, context: "cannot enter pipeline mode")
        }
        defer { if PQexitPipelineMode(handle) != 1 { abandoned = true } }
        for step in steps {
            guard step.send(on: handle) else {
                throw PostgresError.connection(handle, context: "cannot send \(step.name)")
            }
        }
        guard PQpipelineSync(handle) == 1 else { throw PostgresError.connection(handle, context: "cannot sync the pipeline") }
        var results: [Result<PostgresRows, Error>] = []
        for step in steps {
            results.append(Result {
                let rows = try check(PQgetResult(handle))
                try step.check(rows.count)
                return rows
            })
            // Each statement's results end with a null.
            while let extra = PQgetResult(handle) { PQclear(extra) }
        }
        // Then the sync's own result.
        if let sync = PQgetResult(handle) { PQclear(sync) }
        return try results.map { try $0.get() }
    }

    /// Runs a `:script` statement as simple-query text.
    public func execute(_ script: PreparedStatement) throws {
        guard script.rows == .script else {
            throw PostgresError(kind: .decoding, message: "query \(script.name) is not a script: run it with query")
        }
        try execute(script.sql)
    }

    /// Runs SQL text without parameters; may hold several statements
    /// (migrations, `SET`s). Never build this text from input.
    public func execute(_ sql: String) throws {
        let text = (takeDeferred() + [sql]).joined(separator: "; ")
        try check(waits.during { PQexec(handle, text) })
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when
    /// it throws. `BEGIN` goes with the body's first statement (no round trip
    /// of its own; see `deferred`).
    @discardableResult
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        deferred.append("BEGIN")
        let value: T
        do {
            value = try body()
        } catch {
            // Nothing to roll back when BEGIN never left.
            let begun = deferred.first != "BEGIN"
            deferred.removeAll()
            if begun && !isBroken { try? execute("ROLLBACK") }
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            // A deferred RELEASE refused: COMMIT never ran.
            if inTransaction && !isBroken { try? execute("ROLLBACK") }
            throw error
        }
        return value
    }

    /// Runs `body` under a savepoint: released on success, rolled back (and
    /// the error rethrown) on failure, leaving the outer transaction usable.
    /// `SAVEPOINT` and `RELEASE` go with the next statements (see `deferred`).
    public func savepoint<T>(_ name: String = "conveyor_sp", _ body: () throws -> T) throws -> T {
        let quoted = escapeIdentifier(name)
        let command = "SAVEPOINT \(quoted)"
        if PQtransactionStatus(handle) == PQTRANS_INERROR {
            // Refused now, as it would be alone, before there is anything to roll back.
            try execute(command)
        } else {
            deferred.append(command)
        }
        do {
            let value = try body()
            if deferred.last == command {
                deferred.removeLast()
            } else if PQtransactionStatus(handle) == PQTRANS_INERROR {
                // The body swallowed an error: RELEASE fails now, as it would alone, inside this savepoint.
                try execute("RELEASE SAVEPOINT \(quoted)")
            } else {
                deferred.append("RELEASE SAVEPOINT \(quoted)")
            }
            return value
        } catch {
            if deferred.last == command {
                // Never sent: there is nothing to undo.
                deferred.removeLast()
            } else {
                // What was deferred since the savepoint is undone with it.
                deferred.removeAll()
                if !isBroken { try execute("ROLLBACK TO SAVEPOINT \(quoted)") }
            }
            throw error
        }
    }

    /// Starts listening on a channel.
    public func listen(_ channel: String) throws {
        try execute("LISTEN \(escapeIdentifier(channel))")
    }

    /// Returns pending notifications, waiting up to `timeout` seconds on the
    /// connection's socket when none are queued (no sleep-polling). Returns
    /// early, possibly empty, when `wakeDescriptor` becomes readable.
    public func waitForNotifications(timeout: Double, wakeDescriptor: Int32? = nil) throws -> [PostgresNotification] {
        try consumeInput()
        var pending = drainNotifications()
        guard pending.isEmpty else { return pending }
        var descriptors = [pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)]
        if let wakeDescriptor { descriptors.append(pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)) }
        let milliseconds = Int32(max(0, min(timeout, 86_400)) * 1000)
        let ready = waits.during(forAnswer: false) { poll(&descriptors, nfds_t(descriptors.count), milliseconds) }
        if ready < 0, errno != EINTR {
            throw PostgresError(kind: .connection, message: "poll failed: \(String(cString: strerror(errno)))")
        }
        if descriptors[0].revents != 0 {
            try consumeInput()
            pending = drainNotifications()
        }
        return pending
    }

    /// Quotes an identifier (channel, savepoint) for SQL text.
    public func escapeIdentifier(_ identifier: String) -> String {
        guard let escaped = PQescapeIdentifier(handle, identifier, identifier.utf8.count) else { return "\"\"" }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    private func consumeInput() throws {
        guard PQconsumeInput(handle) == 1 else {
            throw PostgresError.connection(handle, context: "lost connection to PostgreSQL")
        }
    }

    private func drainNotifications() -> [PostgresNotification] {
        var notifications: [PostgresNotification] = []
        while let notify = PQnotifies(handle) {
            notifications.append(PostgresNotification(
                channel: String(cString: notify.pointee.relname),
                payload: String(cString: notify.pointee.extra),
                senderPID: notify.pointee.be_pid
            ))
            PQfreemem(notify)
        }
        return notifications
    }

    @discardableResult
    private func check(_ result: OpaquePointer?) throws -> PostgresRows {
        guard let result else {
            throw PostgresError.connection(handle, context: "lost connection to PostgreSQL")
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(result: result)
        default:
            let error = PostgresError.from(result: result, connection: handle)
            PQclear(result)
            throw error
        }
    }

    private static func withParameters<R>(
        _ parameters: [any PostgresBindable],
        _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> R
    ) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.postgresText.flatMap { strdup($0) } }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { body(Int32(parameters.count), $0.baseAddress) }
    }

    private static func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
