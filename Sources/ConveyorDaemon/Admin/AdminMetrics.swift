import ConveyorProtocol
import Metrics

/// The admin socket's metrics: connections open now (requests and streams
/// apart) and answers by code (`ok` or the error's code).
enum AdminMetrics {
    static let requestConnections = Gauge(label: "conveyor_admin_connections", dimensions: [("kind", "requests")])
    static let streamConnections = Gauge(label: "conveyor_admin_connections", dimensions: [("kind", "streams")])

    private static let answers: [String: Counter] = Dictionary(
        uniqueKeysWithValues: (["ok"] + ErrorCode.allCases.map(\.rawValue)).map {
            ($0, Counter(label: "conveyor_admin_requests_total", dimensions: [("code", $0)]))
        })

    /// Counts one answer: `nil` for `ok`.
    static func answered(_ code: ErrorCode?) {
        answers[code?.rawValue ?? "ok"]?.increment()
    }

    static func connections(requests: Int, streams: Int) {
        requestConnections.record(requests)
        streamConnections.record(streams)
    }
}
