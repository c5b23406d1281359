@testable import ConveyorCLI
import ConveyorProtocol
import Foundation
import Glibc
import Testing

/// Talking to the socket: one clear line when it cannot be reached, results and events
/// from a (fake) daemon, and a new connection when the daemon closed an idle one.
@Suite struct SessionTests {
    func settings(_ path: String) -> Settings {
        // Only ends a hang: the fake daemon answers at once, when its thread gets a core.
        Settings(socketPath: path, json: false, timeout: .seconds(30))
    }

    /// The failure `body` throws; `nil` when it succeeds.
    func failure(_ body: () throws -> Void) -> Failure? {
        do {
            try body()
            return nil
        } catch {
            return error as? Failure
        }
    }

    @Test func aMissingSocketSaysSo() throws {
        let path = NSTemporaryDirectory() + "conveyor-none-\(getpid())/admin.sock"
        let failure = try #require(failure { _ = try AdminSession(settings: settings(path)).answer(Request(cmd: "ping")) { _ in } })
        #expect(failure.exitCode == 3)
        #expect(failure.message == "no socket at \(path): is conveyord running? (set --socket or CONVEYOR_ADMIN_SOCKET)")
    }

    @Test func aStaleSocketIsRefused() throws {
        let directory = try FileManager.default.url(
            for: .itemReplacementDirectory, in: .userDomainMask, appropriateFor: URL(fileURLWithPath: "/tmp"), create: true).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/admin.sock"
        close(try FakeDaemon.bound(path))
        let failure = try #require(failure { _ = try AdminSession(settings: settings(path)).answer(Request(cmd: "ping")) { _ in } })
        #expect(failure.exitCode == 3)
        #expect(failure.message == "connection refused at \(path): stale socket, the daemon is not running")
    }

    @Test func aForbiddenSocketNamesTheGroup() {
        let failure = Failure.cannotConnect(to: "/run/conveyor/admin.sock", errorNumber: EACCES)
        #expect(failure.exitCode == 3)
        #expect(failure.message == "permission denied on /run/conveyor/admin.sock: you need to be in the socket's group (socket_group in conveyor.conf)")
    }

    @Test func resultsErrorsAndEvents() throws {
        let daemon = try FakeDaemon { line in
            let request = try? Request.parse(line: line)
            switch request?.cmd {
            case "ping": return [#"{"id":"conveyorctl","ok":true,"result":{"pong":true}}"#]
            case "drain": return [#"{"id":"conveyorctl","event":{"drain":{"in_flight":1}}}"#, #"{"id":"conveyorctl","ok":true,"result":{"drained":true}}"#]
            case "job.retry": return [#"{"id":"conveyorctl","ok":false,"error":{"code":"not_found","message":"no job 9"}}"#]
            default: return [#"{"id":"someone-else","ok":true,"result":{}}"#]
            }
        }
        let session = AdminSession(settings: settings(daemon.socketPath))
        let request = { (cmd: String) in Request(id: "conveyorctl", cmd: cmd) }
        #expect(try session.answer(request("ping")) { _ in } == ["pong": true])
        var events: [JSONValue] = []
        #expect(try session.answer(request("drain")) { events.append($0) } == ["drained": true])
        #expect(events == [["drain": ["in_flight": 1]]])
        let notFound = try #require(failure { _ = try session.answer(request("job.retry")) { _ in } })
        #expect(notFound.exitCode == 14 && notFound.message == "not_found: no job 9")
        let confused = try #require(failure { _ = try session.answer(request("status")) { _ in } })
        #expect(confused.exitCode == 22)
    }

    @Test func anIdleConnectionTheDaemonClosedIsOpenedAgain() throws {
        let daemon = try FakeDaemon { line in
            (try? Request.parse(line: line))?.cmd == "ping" ? [#"{"id":"conveyorctl","ok":true,"result":{"pong":true}}"#] : []
        }
        let session = AdminSession(settings: settings(daemon.socketPath))
        let ping = Request(id: "conveyorctl", cmd: "ping")
        #expect(try session.answer(ping) { _ in } == ["pong": true])
        #expect(try session.answer(ping) { _ in } == ["pong": true])
        #expect(daemon.connections == 1, "one connection for both")
        // "bye" makes the fake daemon hang up, as an idle timeout does.
        let closed = try #require(failure { _ = try session.answer(Request(id: "conveyorctl", cmd: "bye")) { _ in } })
        #expect(closed.exitCode == 19)
        #expect(try session.answer(ping) { _ in } == ["pong": true])
        #expect(daemon.connections == 2)
    }

    @Test func aStreamEndsWhenTheDaemonCloses() throws {
        let daemon = try FakeDaemon(closesAfterAnswer: true) { _ in
            [#"{"id":"conveyorctl","ok":true,"result":{"streaming":true}}"#, #"{"id":"conveyorctl","event":{"type":"jobs_enqueued"}}"#]
        }
        var events: [JSONValue] = []
        let session = AdminSession(settings: settings(daemon.socketPath))
        try session.stream(Request(id: "conveyorctl", cmd: "watch")) { events.append($0) }
        #expect(events == [["type": "jobs_enqueued"]], "the acknowledgement is not an event")
    }
}
