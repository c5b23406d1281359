import ConveyorPostgres

/// `noop` jobs do nothing but complete: the queue's own overhead, measured
/// by conveyor-bench.
public struct NoopHandler: JobHandler {
    public let kind = "noop"
    public let writesToDatabase = false
    public init() {}
    public func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] { [:] }
}

/// `probe` jobs prove end-to-end processing: each writes one row to
/// `conveyor.probes` and notifies `conveyor_probe` with its job id, committed
/// with its completion.
public struct ProbeHandler: JobHandler {
    public let kind = "probe"
    public init() {}
    public func handle(_ jobs: [ClaimedJob], on connection: PostgresConnection) throws -> [Int64: JobOutcome] {
        try connection.query(Queries.recordProbes, [jobs.map(\.id)])
        return [:]
    }
}
