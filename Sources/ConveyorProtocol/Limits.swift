/// The admin server's limits, with the defaults `docs/protocol.md` states. The daemon may
/// configure them (`max_line_bytes`, `max_connections`, `idle_timeout`: `docs/config.md`).
public struct Limits: Sendable, Equatable {
    /// Longest request line in bytes, newline excluded; a longer one gets `too_large` and
    /// the connection is closed.
    public var maxLineBytes: Int
    /// Most connections served at once; more are refused with `too_many_connections`.
    /// A connection streaming `watch` counts towards `maxStreams` instead.
    public var maxConnections: Int
    /// Most `watch` streams at once (all of them share one database connection).
    public var maxStreams: Int
    /// A connection without a request for this long is closed.
    public var idleTimeout: Duration
    /// A request line must arrive whole within this long of its first byte;
    /// a client that dribbles one slower is closed (any byte used to count
    /// as activity, so a few such clients held every connection).
    public var lineTimeout: Duration

    /// Connections beyond `maxConnections` that only admins (root and the
    /// daemon's own user) may take, so they can always get in.
    public static let adminReservedConnections = 4

    /// Longest response line a client must accept (16 MiB). Not configurable: it is the
    /// bound the daemon keeps its responses under, and `conveyorctl` gives up beyond it.
    public static let maxResponseLineBytes = 16 << 20

    public init(
        maxLineBytes: Int = 65536, maxConnections: Int = 64, maxStreams: Int = 1000, idleTimeout: Duration = .seconds(60),
        lineTimeout: Duration = .seconds(30)
    ) {
        self.maxLineBytes = maxLineBytes
        self.maxConnections = maxConnections
        self.maxStreams = maxStreams
        self.idleTimeout = idleTimeout
        self.lineTimeout = lineTimeout
    }
}
