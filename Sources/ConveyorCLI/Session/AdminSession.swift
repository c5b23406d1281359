import ConveyorCore
import ConveyorProtocol

/// Requests over one connection to the daemon, opened at the first request and again when
/// the daemon has closed an idle one.
///
/// Every line after the greeting must be a response or an event for our request; anything
/// else is a protocol violation (`internal`).
final class AdminSession {
    let settings: Settings
    private var connection: AdminConnection?

    init(settings: Settings) {
        self.settings = settings
    }

    /// Sends `request` and returns its result, within ``Settings/timeout``; a long command's
    /// progress events go to `progress` first.
    ///
    /// - Throws: the daemon's error, or a ``Failure`` of the connection.
    func answer(_ request: Request, progress: (JSONValue) -> Void) throws(Failure) -> JSONValue {
        guard let result = try exchange(request, streams: false, event: progress) else {
            throw Failure(.unavailable, "the daemon closed the connection before answering")
        }
        return result
    }

    /// Sends a streaming `request` (`watch`) and hands every event to `event` until the
    /// daemon closes the connection; only connecting is bounded by ``Settings/timeout``.
    func stream(_ request: Request, event: (JSONValue) -> Void) throws(Failure) {
        _ = try exchange(request, streams: true, event: event)
    }

    /// The result, or `nil` when the daemon closed the connection first (the end of a
    /// stream); the `ok` that starts a stream is not a result.
    private func exchange(_ request: Request, streams: Bool, event: (JSONValue) -> Void) throws(Failure) -> JSONValue? {
        var deadline = settings.timeout.map { ContinuousClock.now + $0 }
        do throws(Failure) {
            let connection = try open(until: deadline)
            // If the daemon hangs up while we send (say, `too_large`), its last line may still
            // be readable and says more than the failed send.
            var sendFailure: Failure?
            do {
                try connection.send(line: request.encodedLine(), until: deadline)
            } catch {
                sendFailure = error
            }
            while let line = try connection.readLine(until: streams ? nil : deadline) {
                switch try response(line, to: request) {
                case .event(_, let value):
                    event(value)
                    // A command reporting progress (`drain`) is alive: the timeout counts from its last event.
                    deadline = settings.timeout.map { ContinuousClock.now + $0 }
                case .ok where streams:
                    continue
                case .ok(_, let result):
                    return result
                case .error(_, let error):
                    throw Failure(error)
                }
            }
            if let sendFailure { throw sendFailure }
            self.connection = nil
            return nil
        } catch {
            connection = nil
            throw error
        }
    }

    /// The open connection, or a new one with its greeting checked.
    private func open(until deadline: ContinuousClock.Instant?) throws(Failure) -> AdminConnection {
        if let connection, !connection.isClosedByPeer { return connection }
        let fresh = try AdminConnection(path: settings.socketPath, timeout: settings.timeout)
        guard let greeting = try fresh.readLine(until: deadline) else {
            throw Failure(.unavailable, "the daemon closed the connection without a greeting")
        }
        try Self.check(greeting: greeting)
        connection = fresh
        return fresh
    }

    private func response(_ line: String, to request: Request) throws(Failure) -> Response {
        let response: Response
        do {
            response = try Response.parse(line: line)
        } catch {
            throw Failure(.internal, "unexpected line from the daemon (\(error.message)): \(Quoting.excerpt(line, maxCharacters: 200))")
        }
        guard response.id == nil || response.id == request.id else {
            throw Failure(.internal, "the daemon answered another request: \(Quoting.excerpt(line, maxCharacters: 200))")
        }
        return response
    }

    /// Accepts a greeting of our protocol version; reports an error line the daemon sends
    /// instead (such as `too_many_connections`).
    private static func check(greeting line: String) throws(Failure) {
        if let greeting = try? Greeting.parse(line: line) {
            guard greeting.proto == Greeting.currentProto else {
                throw Failure(
                    .internal, "the daemon speaks protocol \(greeting.proto), conveyorctl speaks \(Greeting.currentProto)")
            }
        } else if case .error(_, let error)? = try? Response.parse(line: line) {
            throw Failure(error)
        } else {
            throw Failure(.internal, "unexpected greeting from the daemon: \(Quoting.excerpt(line, maxCharacters: 200))")
        }
    }
}
