import ConveyorProtocol
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The admin socket: newline-delimited JSON over a Unix stream socket, one
/// task per connection, roles from the peer's kernel credentials.
///
/// Each connection gets the greeting, then its requests are answered in
/// order (pipelining works), all of them even after the client has shut
/// down its writing side. Limits: a line over `maxLineBytes` gets
/// `too_large` and the connection closes; a line that takes longer than
/// `lineTimeout` to arrive closes it too; at most `maxConnections` at once,
/// and a few more for admins, besides up to `maxStreams` streaming `watch`;
/// idle connections close after `idleTimeout`; writes wait for the client to
/// read (NIO back-pressure), so a slow reader cannot grow our memory. On
/// graceful shutdown idle connections close at once and busy ones right
/// after their answer, so `shutdown` itself is answered.
public final class AdminServer: Service, @unchecked Sendable {
    /// The configuration in force; limits and roles are read at each connection, so a reload applies to the next.
    private let settings: @Sendable () -> DaemonConfig
    private let socket: AdminSocket
    private let dispatcher: AdminDispatcher
    private let logger: Logger
    private let onListening: @Sendable () -> Void
    private let connections = Mutex(Connections())

    /// Open connections, whether each is answering a request, and whether it
    /// streams (a stream counts towards `maxStreams`, not `maxConnections`).
    private struct Connections {
        var channels: [ObjectIdentifier: (channel: any Channel, busy: Bool, streaming: Bool)] = [:]
        var streams = 0
        /// Puts the counts in the metrics; called once per change of either.
        func publish() {
            AdminMetrics.connections(requests: requestConnections, streams: streams)
        }
        var closing = false
        var requestConnections: Int { channels.count - streams }
    }

    /// `socket` holds the path's lock (see `AdminSocket`); the server listens on it and removes it.
    init(
        settings: @escaping @Sendable () -> DaemonConfig, socket: AdminSocket, dispatcher: AdminDispatcher, logger: Logger,
        onListening: @escaping @Sendable () -> Void
    ) {
        self.settings = settings
        self.socket = socket
        self.dispatcher = dispatcher
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        defer { socket.remove() }
        let settings = self.settings
        let path = settings().adminSocket
        let descriptor = try socket.listen()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            // A client that shuts down its writing side (`printf … | socat`)
            // still gets every answer; the connection closes after the last.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(descriptor) { channel in
                let config = settings()
                let idleTimeout = TimeAmount.nanoseconds(Int64(config.idleTimeout * 1e9))
                let lineTimeout = TimeAmount.nanoseconds(Int64(config.lineTimeout * 1e9))
                let maxLineBytes = config.maxLineBytes
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(IdleCloser())
                    try channel.pipeline.syncOperations.addHandler(LineDeadline(timeout: lineTimeout))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLength: maxLineBytes)))
                    // Close-on-deinit wrapping, though NIO deprecates it: a connection
                    // the kernel accepted just as the listener closes at shutdown
                    // becomes active after the accept loop has ended, is never
                    // served, and the scoped wrapping then stops the process
                    // ("Deinited NIOAsyncWriter without calling finish()").
                    return try NIOAsyncChannel<AdminLine, ByteBuffer>(synchronouslyWrapping: channel)
                }
            }
        logger.info("admin socket listening", metadata: ["path": "\(path)"])
        onListening()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
            self.connections.withLock { state in
                state.closing = true
                for entry in state.channels.values where !entry.busy { entry.channel.close(promise: nil) }
            }
        }
        logger.info("admin socket closed", metadata: ["path": "\(path)"])
    }

    /// Moves a connection to the streams (idle for shutdown: it closes at
    /// once); false when `maxStreams` are open.
    private func startStreaming(_ key: ObjectIdentifier) -> Bool {
        let maxStreams = settings().maxStreams
        return connections.withLock { state in
            guard state.streams < maxStreams, state.channels[key] != nil else { return false }
            state.channels[key]?.streaming = true
            state.channels[key]?.busy = false
            state.streams += 1
            state.publish()
            return true
        }
    }

    /// Marks a connection busy or idle (a stream that ended is a request
    /// connection again); false when it should close now.
    private func setBusy(_ key: ObjectIdentifier, _ busy: Bool) -> Bool {
        connections.withLock { state in
            if state.channels[key]?.streaming == true {
                state.channels[key]?.streaming = false
                state.streams -= 1
                state.publish()
            }
            state.channels[key]?.busy = busy
            return !state.closing
        }
    }

    private func serve(_ connection: NIOAsyncChannel<AdminLine, ByteBuffer>) async {
        let channel = connection.channel
        let key = ObjectIdentifier(channel)
        defer {
            connections.withLock { state in
                if state.channels.removeValue(forKey: key)?.streaming == true { state.streams -= 1 }
                state.publish()
            }
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                @Sendable func send(_ line: String) async throws {
                    try await outbound.write(ByteBuffer(string: line + "\n"))
                }
                /// An error for a line that never reached the dispatcher.
                func refuse(_ error: ProtocolError) async throws {
                    AdminMetrics.answered(error.code)
                    try await send(Response.error(id: nil, error).encodedLine())
                }
                let config = settings()
                let caller = try await self.caller(of: channel, config)
                // Admins have a few connections of their own beyond the limit.
                let limit = config.maxConnections + (caller.role == .admin ? Limits.adminReservedConnections : 0)
                let admitted = connections.withLock { state -> Bool in
                    guard state.requestConnections < limit, !state.closing else { return false }
                    state.channels[key] = (channel, false, false)
                    state.publish()
                    return true
                }
                guard admitted else {
                    let error = ProtocolError(.tooManyConnections, "at most \(config.maxConnections) connections; try again later")
                    try await refuse(error)
                    return
                }
                try await send(Greeting(version: ConveyorVersion.current, role: caller.role).encodedLine())
                var linesNotRequests = 0
                for try await line in inbound {
                    switch line {
                    case .tooLong:
                        let error = ProtocolError(.tooLarge, "request line exceeds \(config.maxLineBytes) bytes; closing")
                        try await refuse(error)
                        return
                    case .invalidUTF8:
                        try await refuse(ProtocolError(.parseError, "request line is not valid UTF-8"))
                        linesNotRequests += 1
                    case .unterminated:
                        let error = ProtocolError(.badRequest, "the last request line has no newline at the end; it was not run")
                        try await refuse(error)
                    case .foreignProtocol(let name):
                        let error = ProtocolError(.badRequest, "this socket speaks conveyor's admin protocol (JSON or words, one per line), not \(name); closing")
                        try await refuse(error)
                        return
                    case .line(let text) where text.allSatisfy(\.isWhitespace):
                        // unanswered, but counted: a flood of them is not a client either
                        linesNotRequests += 1
                    case .line(let text):
                        guard setBusy(key, true) else { return }
                        let hooks = StreamHooks(closed: channel.closeFuture) { self.startStreaming(key) }
                        let wasRequest = try await dispatcher.respond(to: text, from: caller, hooks: hooks, send: send)
                        guard setBusy(key, false) else { return }
                        linesNotRequests = wasRequest ? 0 : linesNotRequests + 1
                    }
                    if linesNotRequests > Self.linesNotRequestsAllowed {
                        let error = ProtocolError(.badRequest, "more than \(Self.linesNotRequestsAllowed) lines in a row were not requests; closing")
                        try await refuse(error)
                        return
                    }
                }
            }
        } catch {
            logger.debug("admin connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Lines in a row that may fail to parse as requests (blank and invalid
    /// UTF-8 ones too); the next one closes the connection: whatever sends them is not
    /// a client, and it must not be able to slip a request in among them.
    public static let linesNotRequestsAllowed = 16

    private func caller(of channel: any Channel, _ config: DaemonConfig) async throws -> Caller {
        guard let provider = channel as? SocketOptionProvider else {
            return Caller(uid: nil, pid: nil, role: .viewer)
        }
        let credentials: PeerCredentials = try await provider
            .unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .get()
        let roles = RoleResolver(daemonUID: getuid(), operatorGroups: Set(config.operatorGroups), operatorTeams: config.operatorTeams)
        let (role, teams) = roles.role(for: credentials)
        return Caller(uid: credentials.uid, pid: credentials.pid, role: role, teams: teams)
    }
}

/// Closes a connection when `IdleStateHandler` reports it idle.
private final class IdleCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Who sent a request: from the kernel, never from the request.
public struct Caller: Sendable, Equatable {
    public let uid: UInt32?
    public let pid: Int32?
    public let role: Role
    /// The only teams an operator may change (`operator_teams`); nil: every team.
    public var teams: Set<String>? = nil
}
