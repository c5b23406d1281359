import AsyncHTTPClient
import ConveyorCore
import ConveyorSignature
import ConveyorStore
import Foundation
import NIOCore
import NIOHTTP1

/// One webhook delivery to attempt: the job, where, signed with what, and the body.
struct WebhookDelivery: Sendable {
    let jobId: Int64
    let url: String
    let secret: String
    let body: String
}

/// POSTs webhook deliveries with the daemon's one `HTTPClient` and says what
/// became of each attempt: 2xx succeeded; any other answer, a redirect (never
/// followed), a timeout or a connection failure is retried by the queue.
///
/// Each attempt is signed afresh (`Conveyor-Signature` with its own
/// timestamp), may take `timeout` in all (connecting, sending, answering),
/// and reads at most `responseLimit` bytes of the answer before dropping the
/// connection, so a huge answer is never buffered.
struct WebhookPoster: Sendable {
    static let responseLimit = 64 * 1024
    /// How much of a failed answer's body `last_error` quotes.
    static let excerptLimit = 200
    static let userAgent = "conveyor/\(ConveyorVersion.current)"
    /// The job id, so a receiver can recognise a delivery it already has (after a lost answer).
    static let deliveryHeader = "Conveyor-Delivery"

    /// Seconds an attempt may take (`webhook_timeout`).
    let timeout: Double
    private let client: HTTPClient

    /// Its own client: no redirects followed, and a failed connection fails
    /// the attempt at once (the queue's backoff retries it). Shut it down
    /// (``shutdown()``) before the daemon exits.
    init(timeout: Double) {
        self.timeout = timeout
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: Self.amount(timeout), read: Self.amount(timeout))
        )
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    func shutdown() async throws {
        try await client.shutdown()
    }

    private static func amount(_ seconds: Double) -> TimeAmount {
        .nanoseconds(Int64(seconds * 1e9))
    }

    /// Attempts every delivery at once; an outcome for each job.
    func post(_ deliveries: [WebhookDelivery]) async -> [Int64: JobOutcome] {
        await withTaskGroup(of: (Int64, JobOutcome).self) { group in
            for delivery in deliveries {
                group.addTask { (delivery.jobId, await self.post(delivery)) }
            }
            var outcomes: [Int64: JobOutcome] = [:]
            for await (jobId, outcome) in group { outcomes[jobId] = outcome }
            return outcomes
        }
    }

    private struct TimedOut: Error {}

    private func post(_ delivery: WebhookDelivery) async -> JobOutcome {
        do {
            return try await withThrowingTaskGroup(of: JobOutcome.self) { group in
                group.addTask { try await attempt(delivery) }
                group.addTask {
                    try await Task.sleep(for: .seconds(timeout))
                    throw TimedOut()
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch is TimedOut {
            return .retry(error: timedOut)
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            return .retry(error: timedOut)
        } catch let error as IOError {
            return .retry(error: "POST failed: \(String(cString: strerror(error.errnoCode)))")
        } catch {
            return .retry(error: "POST failed: \(error)")
        }
    }

    private var timedOut: String {
        "POST timed out after \(timeout == timeout.rounded() ? String(Int(timeout)) : String(timeout)) s"
    }

    private func attempt(_ delivery: WebhookDelivery) async throws -> JobOutcome {
        let body = Array(delivery.body.utf8)
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        request.headers.add(name: Self.deliveryHeader, value: String(delivery.jobId))
        request.headers.add(
            name: WebhookSignature.headerName,
            value: WebhookSignature.header(body: body, secret: delivery.secret, timestamp: Int64(Date().timeIntervalSince1970))
        )
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, deadline: .now() + Self.amount(timeout))
        let head = try await Self.prefix(of: response.body, limit: Self.responseLimit)
        let status = "\(response.status.code) \(response.status.reasonPhrase)"
        switch response.status.code {
        case 200..<300:
            return .succeeded
        case 300..<400:
            let location = response.headers.first(name: "Location").map { Quoting.excerpt($0, maxCharacters: 500) } ?? "no Location"
            return .retry(error: "POST answered \(status), a redirect to \(location): redirects are not followed; set the new address with team.update")
        default:
            let excerpt = Quoting.excerpt(String(decoding: head.prefix(Self.excerptLimit), as: UTF8.self), maxCharacters: Self.excerptLimit)
            return .retry(error: "POST answered \(status): \(excerpt)")
        }
    }

    /// The first `limit` bytes of `body`; stops reading there, which drops the
    /// connection instead of receiving the rest.
    private static func prefix(of body: HTTPClientResponse.Body, limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in body {
            bytes.append(contentsOf: chunk.readableBytesView.prefix(limit - bytes.count))
            if bytes.count >= limit { break }
        }
        return bytes
    }
}
