import ConveyorPostgres
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The `admin` scenario: the daemon's admin socket under load, through a real
/// conveyord. Pipelined `ping`s on one connection; `status`, then `ping`, from
/// 50 clients at ten a second each; `status` and `ping` from 50 clients as fast as they go
/// (status p99 against ping p99 of the same clients); and 1,000 `watch`
/// streams: the database connections they cost and how soon each receives a
/// handoff event after its win committed.
struct AdminScenarios {
    let conninfo: String
    let options: BenchOptions
    static let team = "admin-bench"
    static let pipelinedPings = 100_000
    static let clients = 50
    static let statusRate = 10.0
    static let watchers = 1000
    static let watchedWins = 20

    func admin() throws -> ScenarioResult {
        let connection = try PostgresConnection(conninfo: conninfo, applicationName: "conveyor-bench")
        try connection.query(BenchQueries.resetHandoffData)
        try connection.query(BenchQueries.addBenchTeams, [[Self.team], 1_000_000, 20])
        let daemon = try BenchDaemon(conninfo: conninfo, workers: options.workers, batchSize: options.batchSize)
        defer { daemon.stop() }
        let socket = daemon.directory + "/admin.sock"
        var figures: [(String, Double)] = [("pipelined_pings_per_second", try pipelinedPings(socket))]

        for command in ["status", "ping"] {
            let steady = try Self.steadyLatency(command, socket: socket, clients: Self.clients, rate: Self.statusRate, seconds: options.seconds)
            figures += [("\(command)_p50_ms", steady.p50), ("\(command)_p99_ms", steady.p99)]
        }

        let flatOut = try flatOutStatusAndPing(socket)
        figures += [
            ("flat_out_status_p99_ms", flatOut.status.p99), ("flat_out_ping_p99_ms", flatOut.ping.p99),
            ("ratio_status_to_ping_p99", flatOut.status.p99 / flatOut.ping.p99),
        ]

        let watch = try watchFanOut(socket, connection: connection)
        figures += [
            ("watchers", Double(Self.watchers)), ("watch_db_connections", Double(watch.databaseConnections)),
            ("watch_delivery_p50_ms", watch.delivery.p50), ("watch_delivery_p99_ms", watch.delivery.p99),
        ]
        return ScenarioResult(scenario: "admin", figures: figures)
    }

    /// `pipelinedPings` pings written by one thread while this one reads the answers.
    private func pipelinedPings(_ socket: String) throws -> Double {
        let client = try AdminSocketClient(path: socket)
        let started = DispatchTime.now().uptimeNanoseconds
        let writeFailure = Mutex<Error?>(nil)
        let writer = Thread {
            let chunk = String(repeating: "ping\n", count: 1000)
            do {
                for _ in 0..<(Self.pipelinedPings / 1000) { try client.write(chunk) }
            } catch {
                writeFailure.withLock { $0 = error }
            }
        }
        writer.start()
        for index in 0..<Self.pipelinedPings {
            guard let line = try client.readLine(), line.contains("\"pong\":true") else {
                throw BenchError("ping \(index) was not answered with pong")
            }
        }
        if let error = writeFailure.withLock({ $0 }) { throw error }
        return Double(Self.pipelinedPings) / (Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }

    /// `clients` connections each sending `command` `rate` times a second for
    /// `seconds`, evenly spread; p50 and p99 of the answer times in milliseconds.
    static func steadyLatency(_ command: String, socket: String, clients: Int, rate: Double, seconds: Double) throws -> Percentiles {
        let samples = try onThreads(clients, socket: socket) { index, client in
            var times: [Double] = []
            let start = DispatchTime.now().uptimeNanoseconds + UInt64(Double(index) / Double(clients) / rate * 1e9)
            for n in 0..<Int(rate * seconds) {
                let due = start + UInt64(Double(n) / rate * 1e9)
                let now = DispatchTime.now().uptimeNanoseconds
                if now < due { Thread.sleep(forTimeInterval: Double(due - now) / 1e9) }
                times.append(try timed(client, command))
            }
            return [command: times]
        }
        return Percentiles(samples[command] ?? [])
    }

    /// `clients` connections alternating `status` and `ping` as fast as they are answered for `--seconds`.
    private func flatOutStatusAndPing(_ socket: String) throws -> (status: Percentiles, ping: Percentiles) {
        let seconds = options.seconds
        let samples = try Self.onThreads(Self.clients, socket: socket) { _, client in
            var times: [String: [Double]] = [:]
            let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
            while DispatchTime.now().uptimeNanoseconds < end {
                for command in ["status", "ping"] { times[command, default: []].append(try Self.timed(client, command)) }
            }
            return times
        }
        return (Percentiles(samples["status"] ?? []), Percentiles(samples["ping"] ?? []))
    }

    /// `watchers` streams of handoff events; `watchedWins` wins at ten a second;
    /// each event's arrival at each watcher against its win's commit.
    private func watchFanOut(_ socket: String, connection: PostgresConnection) throws -> (databaseConnections: Int, delivery: Percentiles) {
        var streams: [AdminSocketClient] = []
        for _ in 0..<Self.watchers {
            let client = try AdminSocketClient(path: socket)
            let answer = try client.ask("watch topics=handoffs")
            guard answer.contains("\"ok\":true") else { throw BenchError("watch was refused: \(answer.prefix(200))") }
            streams.append(client)
        }
        let databaseConnections = try connection.query(
            "select count(*)::int as n from pg_stat_activity where application_name = 'conveyord-watch' and datname = current_database()"
        ).first?["n"].int64() ?? -1
        let reader = EventArrivals(streams, expected: Self.watchers * Self.watchedWins)
        let readerThread = Thread { reader.run() }
        readerThread.start()
        var committedAt: [String: UInt64] = [:]
        for n in 0..<Self.watchedWins {
            let ref = "watched-\(n)"
            try connection.query(BenchQueries.recordBenchWin, [Self.team, ref])
            committedAt[ref] = DispatchTime.now().uptimeNanoseconds
            Thread.sleep(forTimeInterval: 0.1)
        }
        let arrivals = try reader.wait(timeout: 30)
        let delays = arrivals.compactMap { ref, arrived in committedAt[ref].map { Double(arrived - min(arrived, $0)) / 1e6 } }
        return (Int(databaseConnections), Percentiles(delays))
    }

    /// Milliseconds from sending `command` to its answer.
    private static func timed(_ client: AdminSocketClient, _ command: String) throws -> Double {
        let started = DispatchTime.now().uptimeNanoseconds
        let answer = try client.ask(command)
        guard answer.contains("\"ok\":true") else { throw BenchError("\(command) failed: \(answer.prefix(200))") }
        return Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
    }

    /// Runs `body` on `count` threads, each with a connection of its own; merges their samples by name.
    private static func onThreads(
        _ count: Int, socket: String, _ body: @escaping @Sendable (Int, AdminSocketClient) throws -> [String: [Double]]
    ) throws -> [String: [Double]] {
        let merged = Mutex<Result<[String: [Double]], Error>>(.success([:]))
        let done = DispatchGroup()
        for index in 0..<count {
            let client = try AdminSocketClient(path: socket)
            done.enter()
            Thread {
                defer { done.leave() }
                let result = Result { try body(index, client) }
                merged.withLock { all in
                    switch (all, result) {
                    case (.success(var samples), .success(let mine)):
                        samples.merge(mine) { $0 + $1 }
                        all = .success(samples)
                    case (.success, .failure):
                        all = result
                    case (.failure, _):
                        break
                    }
                }
            }.start()
        }
        done.wait()
        return try merged.withLock { $0 }.get()
    }
}

/// p50 and p99 of a set of samples (milliseconds).
struct Percentiles {
    let p50: Double
    let p99: Double

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        func at(_ fraction: Double) -> Double { sorted.isEmpty ? -1 : sorted[Int(Double(sorted.count - 1) * fraction)] }
        p50 = at(0.5)
        p99 = at(0.99)
    }
}

/// Reads every watcher's stream on one thread (poll), noting when each
/// watcher receives each account's handoff event.
private final class EventArrivals: @unchecked Sendable {
    private let streams: [AdminSocketClient]
    private let expected: Int
    private let arrivals = Mutex<[(String, UInt64)]>([])
    private let finished = DispatchSemaphore(value: 0)
    private let stop = Atomic<Bool>(false)

    init(_ streams: [AdminSocketClient], expected: Int) {
        self.streams = streams
        self.expected = expected
    }

    func run() {
        var descriptors = streams.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
        while !stop.load(ordering: .relaxed), arrivals.withLock({ $0.count }) < expected {
            guard poll(&descriptors, nfds_t(descriptors.count), 100) > 0 else { continue }
            for index in descriptors.indices where descriptors[index].revents != 0 {
                let stream = streams[index]
                guard (try? stream.fill()) == true else { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                while let line = stream.bufferedLine() {
                    guard let ref = Self.account(in: line) else { continue }
                    arrivals.withLock { $0.append((ref, now)) }
                }
            }
        }
        finished.signal()
    }

    /// The arrivals once all are in; throws after `timeout` seconds.
    func wait(timeout: Double) throws -> [(String, UInt64)] {
        let inTime = finished.wait(timeout: .now() + timeout) == .success
        stop.store(true, ordering: .relaxed)
        if !inTime { finished.wait() }
        let all = arrivals.withLock { $0 }
        guard all.count == expected else { throw BenchError("watchers received \(all.count) of \(expected) handoff events") }
        return all
    }

    /// The `account` of a handoff event line.
    private static func account(in line: String) -> String? {
        guard line.contains("\"event\""), let range = line.range(of: "\"account\":\"") else { return nil }
        return line[range.upperBound...].split(separator: "\"", maxSplits: 1).first.map(String.init)
    }
}
