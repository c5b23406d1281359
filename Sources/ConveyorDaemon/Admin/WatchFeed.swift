import ConveyorCore
import ConveyorPostgres
import ConveyorProtocol
import ConveyorStore
import Foundation
import Synchronization

/// The event stream behind `watch`: a connection of its own, on a thread of
/// its own, LISTENing to `conveyor_events` (handoffs, alerts) and
/// `conveyor_jobs` (jobs enqueued), turning each notification into events
/// with their details. The first element, once listening, is the command's
/// result; a heartbeat every `heartbeat` seconds keeps an idle stream open.
final class WatchFeed: Sendable {
    enum Topic: String, CaseIterable, Sendable { case handoffs, alerts, jobs }

    private let pipe = WakePipe()
    private let stopped = Atomic<Bool>(false)

    /// Runs until the consumer stops iterating or `stop()`; throws when the
    /// database cannot be reached.
    /// At most this many events wait for a slow reader; a watcher that falls
    /// further behind is told so and ends, so it cannot grow our memory.
    static let backlog = 1000

    func events(conninfo: String?, topics: Set<Topic>, heartbeat: Double) -> AsyncThrowingStream<JSONValue, Error> {
        AsyncThrowingStream(bufferingPolicy: .bufferingOldest(Self.backlog)) { continuation in
            continuation.onTermination = { _ in self.stop() }
            let thread = Thread {
                do {
                    try self.listen(conninfo: conninfo, topics: topics, heartbeat: heartbeat) { event in
                        if case .dropped = continuation.yield(event) {
                            self.stop()
                            continuation.finish(throwing: ProtocolError(.unavailable, "watch fell \(Self.backlog) events behind; reconnect"))
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.name = "conveyor-watch"
            thread.start()
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        pipe.signal()
    }

    private func listen(conninfo: String?, topics: Set<Topic>, heartbeat: Double, emit: (JSONValue) -> Void) throws {
        let connection = try PostgresConnection(conninfo: conninfo, applicationName: "conveyord-watch")
        try connection.listen(EventStore.channel)
        if topics.contains(.jobs) { try connection.listen(JobStore.channel) }
        emit(["streaming": true])
        var lastBeat = Date()
        while !stopped.load(ordering: .relaxed) {
            for notification in try connection.waitForNotifications(timeout: heartbeat, wakeDescriptor: pipe.readDescriptor) {
                for event in try details(notification, topics: topics, connection: connection) { emit(event) }
            }
            if Date().timeIntervalSince(lastBeat) >= heartbeat {
                emit(["type": "heartbeat", "at": .string(ISO8601.string(Date()))])
                lastBeat = Date()
            }
        }
    }

    private func details(_ notification: PostgresNotification, topics: Set<Topic>, connection: PostgresConnection) throws -> [JSONValue] {
        if notification.channel == JobStore.channel { return [["type": "jobs_enqueued"]] }
        guard let payload = try? JSONValue(parsing: notification.payload) else { return [] }
        switch payload["type"]?.stringValue {
        case "handoffs" where topics.contains(.handoffs):
            guard let team = payload["team_id"]?.intValue, let first = payload["first_id"]?.intValue,
                  let last = payload["last_id"]?.intValue else { return [] }
            return try EventStore.handoffs(connection, teamId: team, firstId: first, lastId: last).map(JSONValue.init(encoding:))
        case "alerts" where topics.contains(.alerts):
            guard let ids = payload["ids"]?.arrayValue?.compactMap(\.intValue) else {
                return [["type": "alerts_changed", "count": payload["count"] ?? .null]]
            }
            return try EventStore.alerts(connection, ids: ids).map { alert in
                var event = try AlertCommands.encode(alert).objectValue ?? [:]
                event["type"] = "alert"
                return .object(event)
            }
        default:
            return []
        }
    }
}
