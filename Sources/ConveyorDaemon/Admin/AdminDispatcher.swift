import ConveyorCore
import ConveyorPostgres
import ConveyorProtocol
import ConveyorStore
import Foundation
import Logging
import NIOCore

/// Runs one admin command for a caller and returns its result.
public typealias CommandHandler = @Sendable (Arguments, Caller) async throws -> JSONValue

/// Runs a command that reports how its work goes (`drain`): each value
/// given to `progress` reaches the client as an event line before the result.
typealias ProgressHandler = @Sendable (
    Arguments, Caller, _ progress: @escaping @Sendable (JSONValue) async throws -> Void
) async throws -> JSONValue

/// The team that a command addressed by id acts on (the job of `job.retry`),
/// for operators of some teams only; nil when it acts on none.
typealias TeamLookup = @Sendable (Arguments) async throws -> String?

/// The `TeamLookup` of a command addressed by its argument `id`: `read` names that id's team.
func teamOfID(_ database: ConnectionPool, _ read: @escaping @Sendable (PostgresConnection, Int64) throws -> String?) -> TeamLookup {
    { args in
        let id = try args.int("id", in: 1...Int64.max)
        return try await database.run { try read($0, id) }
    }
}

/// Starts a streaming command (`watch`). Its first element is the command's
/// result, sent once the stream is ready (so no event after the answer is
/// missed); the rest are events, until the client goes.
typealias StreamHandler = @Sendable (Arguments, Caller) throws -> AsyncThrowingStream<JSONValue, Error>

/// What a streaming command needs from its connection.
struct StreamHooks: Sendable {
    /// Completes when the client closes the connection (or the server closes it).
    let closed: EventLoopFuture<Void>
    /// Called before streaming starts: moves the connection from the request
    /// connections to the streams (and lets shutdown close it); false when
    /// the streams are full.
    let start: @Sendable () -> Bool
}

/// Parses request lines, checks the caller's role and the arguments against
/// `CommandCatalog`, runs the command, answers, and audits every
/// state-changing command (who, what, result) in `conveyor.admin_audit`,
/// secret arguments redacted.
final class AdminDispatcher: Sendable {
    private let handlers: [String: ProgressHandler]
    private let teamLookups: [String: TeamLookup]
    private let streams: [String: StreamHandler]
    /// Where audit rows are written: a connection of their own, so a flood of
    /// audited requests queues there and not in front of other commands.
    private let auditDatabase: ConnectionPool
    private let logger: Logger

    init(
        handlers: [String: CommandHandler], progressive: [String: ProgressHandler] = [:],
        streams: [String: StreamHandler], teamLookups: [String: TeamLookup] = [:], audit: ConnectionPool, logger: Logger
    ) {
        self.teamLookups = teamLookups
        self.handlers = handlers.mapValues { handler -> ProgressHandler in
            { @Sendable args, caller, _ in try await handler(args, caller) }
        }.merging(progressive) { _, reporting in reporting }
        self.streams = streams
        self.auditDatabase = audit
        self.logger = logger
    }

    /// Answers one request line; false when the line was not a request at
    /// all (`parse_error` or `bad_request` before any command was looked up).
    @discardableResult
    func respond(to line: String, from caller: Caller, hooks: StreamHooks, send: @escaping @Sendable (String) async throws -> Void) async throws -> Bool {
        let request: Request
        do {
            request = try Request.parse(line: line)
        } catch {
            AdminMetrics.answered(error.code)
            try await send(Response.error(id: Request.echoID(fromLine: line), error).encodedLine())
            return false
        }
        if let stream = streams[request.cmd], let spec = CommandCatalog.spec(named: request.cmd) {
            try await run(stream, spec, request, caller: caller, hooks: hooks, send: send)
            return true
        }
        let response: Response
        do {
            let result = try await run(request, caller: caller) { event in
                try await send(Response.event(id: request.id, event).encodedLine())
            }
            response = .ok(id: request.id, result: result)
            AdminMetrics.answered(nil)
        } catch {
            let refusal = Self.protocolError(error)
            response = .error(id: request.id, refusal)
            AdminMetrics.answered(refusal.code)
        }
        try await send(response.encodedLine())
        return true
    }

    private func run(
        _ request: Request, caller: Caller, progress: @escaping @Sendable (JSONValue) async throws -> Void
    ) async throws -> JSONValue {
        guard let spec = CommandCatalog.spec(named: request.cmd), let handler = handlers[request.cmd] else {
            throw ProtocolError(.unknownCommand, "unknown command \(Quoting.excerpt(request.cmd)); try help")
        }
        let execute = {
            try self.check(request, spec, caller)
            try await self.checkScope(request, spec, caller)
            return try await handler(Arguments(request.args), caller, progress)
        }
        // Reads are not audited; every attempt to change state is, refused or not.
        guard spec.minimumRole > .viewer else { return try await execute() }
        do {
            let result = try await execute()
            await audit(spec.name, request.args, caller: caller, error: nil)
            return result
        } catch {
            await audit(spec.name, request.args, caller: caller, error: Self.protocolError(error))
            throw error
        }
    }

    /// Streams until the client closes, the stream ends or the server shuts down.
    private func run(
        _ stream: StreamHandler, _ spec: CommandSpec, _ request: Request, caller: Caller, hooks: StreamHooks,
        send: @escaping @Sendable (String) async throws -> Void
    ) async throws {
        let events: AsyncThrowingStream<JSONValue, Error>
        do {
            try check(request, spec, caller)
            guard hooks.start() else {
                throw ProtocolError(.tooManyConnections, "as many \(spec.name) streams as allowed are open; try again later")
            }
            events = try stream(Arguments(request.args), caller)
        } catch {
            let refusal = Self.protocolError(error)
            AdminMetrics.answered(refusal.code)
            try await send(Response.error(id: request.id, refusal).encodedLine())
            return
        }
        AdminMetrics.answered(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var first = true
                do {
                    for try await element in events {
                        let line = first ? Response.ok(id: request.id, result: element) : Response.event(id: request.id, element)
                        try await send(line.encodedLine())
                        first = false
                    }
                } catch {
                    try await send(Response.error(id: request.id, Self.protocolError(error)).encodedLine())
                }
            }
            group.addTask { try await hooks.closed.get() }
            // Whichever ends first ends the other: leaving the loop ends the stream's producer.
            try await group.next()
            group.cancelAll()
        }
    }

    /// The caller's role and the arguments against the command's spec.
    private func check(_ request: Request, _ spec: CommandSpec, _ caller: Caller) throws {
        guard caller.role >= spec.minimumRole else {
            throw ProtocolError(.permissionDenied, "\(spec.name) needs role \(spec.minimumRole.rawValue); you are \(caller.role.rawValue)")
        }
        let known = Set(spec.args.map(\.name))
        if let unknown = request.args.keys.sorted().first(where: { !known.contains($0) }) {
            throw ProtocolError(.invalidArgument, "\(spec.name) takes no argument \(Quoting.excerpt(unknown)); usage: \(spec.usage)")
        }
        for arg in spec.args where arg.required && (request.args[arg.name] == nil || request.args[arg.name] == .null) {
            throw ProtocolError(.invalidArgument, "\(spec.name) needs \(arg.name); usage: \(spec.usage)")
        }
    }

    /// An operator of some teams only changes those: the command's `team`
    /// (`name` for `team.*`), or the team of the job or alert it names.
    private func checkScope(_ request: Request, _ spec: CommandSpec, _ caller: Caller) async throws {
        guard caller.role == .operator, spec.minimumRole >= .operator, let scope = caller.teams else { return }
        let args = Arguments(request.args)
        let team: String? = if spec.args.contains(where: { $0.name == "team" }) {
            try args.string("team")
        } else if spec.name.hasPrefix("team.") {
            try args.string("name")
        } else {
            try await teamLookups[spec.name]?(args)
        }
        // Byte for byte, as PostgreSQL compares team names (Swift's == would equate
        // canonically equivalent spellings of two different teams).
        guard let team, scope.contains(where: { $0.utf8.elementsEqual(team.utf8) }) else {
            let target = team.map { "team \(Quoting.excerpt($0))" } ?? "no team of yours"
            throw ProtocolError(
                .permissionDenied, "you operate \(scope.sorted().map { Quoting.excerpt($0) }.joined(separator: ", ")) only; \(spec.name) acts on \(target)")
        }
    }

    private func audit(_ command: String, _ args: [String: JSONValue], caller: Caller, error: ProtocolError?) async {
        let entry = AuditEntry(
            uid: caller.uid.map(Int64.init), pid: caller.pid.map(Int64.init), role: caller.role.rawValue, command: command,
            arguments: Self.auditedArguments(args), errorCode: error?.code.rawValue
        )
        do {
            try await auditDatabase.run { try ServerStore.audit($0, entry) }
        } catch {
            // The database may be down (that is when drain or shutdown matter most): keep the record in the log.
            logger.warning("could not audit admin command", metadata: [
                "command": "\(command)", "uid": "\(caller.uid.map(String.init) ?? "?")", "error": "\(error)",
            ])
        }
    }

    /// Most bytes of arguments an audit row keeps.
    static let maxAuditedArgumentBytes = 4096

    /// The arguments as the audit keeps them: secrets redacted, and cut to
    /// `maxAuditedArgumentBytes` (`{"truncated":true,"bytes":…,"start":"…"}`),
    /// so refused requests cannot fill the table.
    static func auditedArguments(_ args: [String: JSONValue]) -> String {
        let text = JSONValue.object(CommandCatalog.redacted(args)).compactString
        guard text.utf8.count > maxAuditedArgumentBytes else { return text }
        var start = ""
        for character in text {
            guard start.utf8.count + character.utf8.count <= maxAuditedArgumentBytes / 2 else { break }
            start.append(character)
        }
        return JSONValue.object([
            "truncated": true, "bytes": .int(Int64(text.utf8.count)), "start": .string(start),
        ]).compactString
    }

    /// Maps any error to the protocol's closed set of codes, by type and
    /// SQLSTATE only (never by a message's wording).
    static func protocolError(_ error: Error) -> ProtocolError {
        switch error {
        case let error as ProtocolError:
            return error
        case StoreRefusal.notFound(let message):
            return ProtocolError(.notFound, message)
        case StoreRefusal.conflict(let message):
            return ProtocolError(.conflict, message)
        case let error as PostgresError where error.isConnectionLoss:
            return ProtocolError(.unavailable, "database unavailable: \(error.message)")
        case let error as PostgresError where error.code == .uniqueViolation:
            return ProtocolError(.conflict, error.message)
        case let error as PostgresError where error.code == .queryCanceled:
            return ProtocolError(
                .timeout, "\(error.message): a statement took longer than admin_statement_timeout (waiting for a lock, "
                    + "such as its team's routing lock while a rep.depart runs, counts)")
        case let error as PostgresError
        where [SQLState.dataExceptionClass, SQLState.integrityConstraintViolationClass].contains(error.code?.errorClass):
            return ProtocolError(.invalidArgument, error.message + (error.hint.map { " (\($0))" } ?? ""))
        default:
            return ProtocolError(.internal, "\(error)")
        }
    }
}
