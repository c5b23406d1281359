import ConveyorPostgres
import Foundation

/// The payload of a `webhook` job: which team's webhook, and the exact bytes
/// to POST (the digest as JSON text, carried as a JSON string).
public struct WebhookPayload: Codable, Sendable, Equatable {
    public let teamId: Int64
    public let body: String
    public init(teamId: Int64, body: String) {
        self.teamId = teamId
        self.body = body
    }
    enum CodingKeys: String, CodingKey {
        case teamId = "team_id", body
    }
}

/// Where a team's digest goes now: its address and signing secret, if set.
/// Its description leaves the secret out, should it ever be logged.
public struct WebhookTarget: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let teamName: String
    public let url: String?
    public let secret: String?

    public var description: String {
        "WebhookTarget(team: \(teamName), url: \(url ?? "none"), secret: \(secret == nil ? "none" : "(redacted)"))"
    }
    public var debugDescription: String { description }
}

/// Webhook deliveries through the work queue (SQL in `SQL/queries/webhook.sql`):
/// each is a `webhook` job, retried with the queue's backoff until it has
/// used `maxAttempts`, then dead (`job.list`, `job.retry`).
public enum WebhookStore {
    public static let kind = "webhook"
    /// With the queue's backoff (1 s doubling, at most an hour) a receiver may
    /// be down for about four hours before a delivery is dead.
    public static let maxAttempts = 16

    /// Enqueues the delivery of `body` to the team's webhook, in the caller's
    /// transaction; nil (nothing enqueued, and `body` never built) when the
    /// team has no webhook_url or does not exist. The job carries no team_id: it never takes a team's
    /// routing lock into its batch.
    public static func enqueueDigest(_ connection: PostgresConnection, teamId: Int64, body: @autoclosure () throws -> String) throws -> Int64? {
        guard try targets(connection, teamIds: [teamId])[teamId]?.url != nil else { return nil }
        let payload = String(decoding: try JSONEncoder().encode(WebhookPayload(teamId: teamId, body: try body())), as: UTF8.self)
        return try JobStore.enqueue(connection, kind: kind, payload: payload, maxAttempts: maxAttempts)
    }

    /// The current webhook of each of `teamIds` that still exists.
    public static func targets(_ connection: PostgresConnection, teamIds: [Int64]) throws -> [Int64: WebhookTarget] {
        var targets: [Int64: WebhookTarget] = [:]
        for row in try connection.query(Queries.webhookTargets, [teamIds]) {
            targets[try row["id"].int64()] = WebhookTarget(
                teamName: try row["name"].string(), url: try row["webhook_url"].optionalString(),
                secret: try row["webhook_secret"].optionalString()
            )
        }
        return targets
    }
}
