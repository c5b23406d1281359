import ConveyorCore
import ConveyorPostgres
import ConveyorProtocol
import ConveyorStore
import Foundation
import Synchronization

/// The event streams behind `watch`, for every watcher at once: one
/// connection on one thread LISTENs to `conveyor_events` (handoffs, alerts)
/// and `conveyor_jobs` (jobs enqueued), turns each notification into events
/// with their details once, and hands them to each watcher of their topic,
/// so 1,000 watchers cost one database connection. The connection opens
/// with the first watcher and closes after the last. A watcher's first
/// element, once the hub listens, is the command's result; a heartbeat every
/// `heartbeat` seconds keeps idle streams open. Each heartbeat follows a
/// round trip on the connection, so a connection that went silent is cut by
/// the watchdog it is given to (`watch`) and the streams end instead of
/// waiting for events that cannot come.
final class WatchHub: Sendable {
    enum Topic: String, CaseIterable, Sendable { case handoffs, alerts, jobs }

    /// At most this many events wait for a slow reader; a watcher that falls
    /// further behind is told so and ends, so it cannot grow our memory.
    static let backlog = 1000

    private typealias Continuation = AsyncThrowingStream<JSONValue, Error>.Continuation
    private struct Watcher {
        let topics: Set<Topic>
        let continuation: Continuation
    }
    private struct State {
        var watchers: [UInt64: Watcher] = [:]
        var nextID: UInt64 = 0
        /// Whether the thread runs, and whether its connection listens.
        var running = false
        var listening = false
    }

    private let conninfo: String?
    private let heartbeat: Double
    private let watch: @Sendable (ConnectionLiveness) -> Void
    private let state = Mutex(State())
    private let pipe = WakePipe()

    init(conninfo: String?, heartbeat: Double, watch: @escaping @Sendable (ConnectionLiveness) -> Void) {
        self.conninfo = conninfo
        self.heartbeat = heartbeat
        self.watch = watch
    }

    /// A watcher's stream, until the consumer stops iterating; it throws when
    /// the database cannot be reached or the watcher falls behind.
    func events(topics: Set<Topic>) -> AsyncThrowingStream<JSONValue, Error> {
        AsyncThrowingStream(bufferingPolicy: .bufferingOldest(Self.backlog)) { continuation in
            let (id, start) = state.withLock { state -> (UInt64, Bool) in
                let id = state.nextID
                state.nextID += 1
                state.watchers[id] = Watcher(topics: topics, continuation: continuation)
                // Already listening: nothing can be missed from here on.
                if state.listening { continuation.yield(["streaming": true]) }
                let start = !state.running
                state.running = true
                return (id, start)
            }
            continuation.onTermination = { _ in
                _ = self.state.withLock { $0.watchers.removeValue(forKey: id) }
                self.pipe.signal()
            }
            if start {
                let thread = Thread { self.serve() }
                thread.name = "conveyor-watch"
                thread.start()
            }
        }
    }

    private func serve() {
        do {
            try listen()
        } catch {
            let watchers = state.withLock { state in
                defer { state.watchers.removeAll(); state.running = false; state.listening = false }
                return Array(state.watchers.values)
            }
            watchers.forEach { $0.continuation.finish(throwing: error) }
        }
    }

    /// Listens until no watcher is left.
    private func listen() throws {
        let connection = try PostgresConnection(conninfo: conninfo, applicationName: "conveyord-watch")
        watch(connection.liveness)
        try connection.listen(EventStore.channel)
        try connection.listen(JobStore.channel)
        state.withLock { state in
            state.listening = true
            for watcher in state.watchers.values { watcher.continuation.yield(["streaming": true]) }
        }
        var lastBeat = Date()
        while true {
            let anyoneLeft = state.withLock { state in
                if state.watchers.isEmpty { (state.running, state.listening) = (false, false) }
                return state.running
            }
            guard anyoneLeft else { return }
            pipe.drain()
            let notifications = try connection.waitForNotifications(timeout: heartbeat, wakeDescriptor: pipe.readDescriptor)
            // Read after the wait: a watcher acknowledged before a notification came is counted.
            let wanted = state.withLock { $0.watchers.values.reduce(into: Set<Topic>()) { $0.formUnion($1.topics) } }
            for notification in notifications {
                for (topic, event) in try Self.events(notification, wanted: wanted, connection: connection) {
                    broadcast(event) { $0.contains(topic) }
                }
            }
            if Date().timeIntervalSince(lastBeat) >= heartbeat {
                try connection.query("select 1")
                broadcast(["type": "heartbeat", "at": .string(ISO8601.string(Date()))]) { _ in true }
                lastBeat = Date()
            }
        }
    }

    /// Yields `event` to each watcher whose topics `wants`; one that is a
    /// whole backlog behind is ended.
    private func broadcast(_ event: JSONValue, to wants: (Set<Topic>) -> Bool) {
        let behind = state.withLock { state -> [Continuation] in
            var behind: [Continuation] = []
            for (id, watcher) in state.watchers where wants(watcher.topics) {
                if case .dropped = watcher.continuation.yield(event) {
                    behind.append(watcher.continuation)
                    state.watchers.removeValue(forKey: id)
                }
            }
            return behind
        }
        for continuation in behind {
            continuation.finish(throwing: ProtocolError(.unavailable, "watch fell \(Self.backlog) events behind; reconnect"))
        }
    }

    /// The events a notification stands for, each with its topic, for the
    /// topics some watcher wants (their details read once for all).
    private static func events(
        _ notification: PostgresNotification, wanted topics: Set<Topic>, connection: PostgresConnection
    ) throws -> [(Topic, JSONValue)] {
        if notification.channel == JobStore.channel { return topics.contains(.jobs) ? [(.jobs, ["type": "jobs_enqueued"])] : [] }
        guard let payload = try? JSONValue(parsing: notification.payload) else { return [] }
        switch payload["type"]?.stringValue {
        case "handoffs" where topics.contains(.handoffs):
            guard let team = payload["team_id"]?.intValue, let first = payload["first_id"]?.intValue,
                  let last = payload["last_id"]?.intValue else { return [] }
            return try EventStore.handoffs(connection, teamId: team, firstId: first, lastId: last)
                .map { (.handoffs, try JSONValue(encoding: $0)) }
        case "alerts" where topics.contains(.alerts):
            guard let ids = payload["ids"]?.arrayValue?.compactMap(\.intValue) else {
                return [(.alerts, ["type": "alerts_changed", "count": payload["count"] ?? .null])]
            }
            return try EventStore.alerts(connection, ids: ids).map { alert in
                var event = try AlertCommands.encode(alert).objectValue ?? [:]
                event["type"] = "alert"
                return (.alerts, .object(event))
            }
        default:
            return []
        }
    }
}
