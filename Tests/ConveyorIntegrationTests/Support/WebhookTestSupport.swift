import ConveyorPostgres
import ConveyorStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Shorthands of the webhook tests (WebhookDeliveryTests, TeamWebhookCommandTests).
enum WebhookTest {
    static let secret = "digest-secret-0123456789"
    /// A digest as the scan would queue it: JSON text, sent byte for byte.
    static let digest = #"{"team":"rail","opened":[{"account":"acme","kind":"single_threaded","severity":"high"}],"still_open":[],"resolved":[],"top_accounts":["acme"],"note":"Grüße / 貨物"}"#

    /// Inserts a team by plain SQL (as an integration would); returns its id.
    static func addTeam(_ connection: PostgresConnection, name: String = "rail", url: String?, secret: String? = secret) throws -> Int64 {
        try connection.query(
            "insert into conveyor.teams (name, webhook_url, webhook_secret) values ($1, $2, $3) returning id", [name, url, secret]
        )[0]["id"].int64()
    }

    /// Waits at most `timeout` seconds until the job's row satisfies `condition`; returns it.
    @discardableResult
    static func waitForJob(
        _ watcher: QueueWatcher, _ id: Int64, timeout: Double = 30, _ condition: @escaping (QueueTest.JobRow) -> Bool
    ) throws -> QueueTest.JobRow {
        var row: QueueTest.JobRow?
        let reached = try watcher.waitUntil(timeout: timeout) { connection in
            row = try QueueTest.job(connection, id)
            return condition(row!)
        }
        guard reached, let row else { throw TestSetupError("job \(id) did not get there within \(timeout) s: \(String(describing: row))") }
        return row
    }

    /// A loopback port nothing listens on (bound, read, closed).
    static func closedPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestSetupError("socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw TestSetupError("bind: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
