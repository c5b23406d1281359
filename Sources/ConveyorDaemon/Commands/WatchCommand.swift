import ConveyorPostgres
import ConveyorProtocol

/// `watch topics=handoffs,alerts,jobs`: streams events until the client closes.
enum WatchCommand {
    /// One hub for every watch of the daemon.
    static func handler(conninfo: String?, heartbeat: Double, watch: @escaping @Sendable (ConnectionLiveness) -> Void) -> StreamHandler {
        let hub = WatchHub(conninfo: conninfo, heartbeat: heartbeat, watch: watch)
        return { args, _ in
            var topics = Set(WatchHub.Topic.allCases)
            if let text = try args.optionalString("topics") {
                let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                topics = []
                for name in names {
                    guard let topic = WatchHub.Topic(rawValue: name) else {
                        throw ProtocolError(.invalidArgument, "topics must be a comma-separated list of handoffs, alerts, jobs")
                    }
                    topics.insert(topic)
                }
            }
            return hub.events(topics: topics)
        }
    }
}
