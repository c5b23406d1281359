import ConveyorProtocol

/// `watch topics=handoffs,alerts,jobs`: streams events until the client closes.
enum WatchCommand {
    static func handler(conninfo: String?, heartbeat: Double) -> StreamHandler {
        { args, _ in
            var topics = Set(WatchFeed.Topic.allCases)
            if let text = try args.optionalString("topics") {
                let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                topics = []
                for name in names {
                    guard let topic = WatchFeed.Topic(rawValue: name) else {
                        throw ProtocolError(.invalidArgument, "topics must be a comma-separated list of handoffs, alerts, jobs")
                    }
                    topics.insert(topic)
                }
            }
            return WatchFeed().events(conninfo: conninfo, topics: topics, heartbeat: heartbeat)
        }
    }
}
