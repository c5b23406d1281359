@testable import ConveyorCLI
import ConveyorProtocol
import Foundation
import Testing

/// A line at the prompt is read as the command line reads it: friendly spellings and the
/// protocol's words send the same request, and a bad line fails as it would there while the
/// session goes on.
@Suite struct PromptTests {
    /// The requests a fake daemon received; each is answered with an empty result.
    final class Received: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []

        var requests: [Request] { lock.withLock { lines.compactMap { try? Request.parse(line: $0) } } }

        func answer(_ line: String) -> [String] {
            lock.withLock { lines.append(line) }
            return [#"{"id":"conveyorctl","ok":true,"result":{}}"#]
        }
    }

    /// A prompt on `daemon`'s socket; `--json`, so that a result prints as one short line.
    func prompt(on daemon: FakeDaemon) -> Prompt {
        Prompt(
            session: AdminSession(settings: Settings(socketPath: daemon.socketPath, json: true, timeout: .seconds(30))),
            display: { plainDisplay() })
    }

    /// The failure with which the prompt stops running `line`; `nil` when it runs.
    func failure(_ line: String, at prompt: Prompt) -> Failure? {
        do throws(Failure) {
            try prompt.run(line: line)
            return nil
        } catch {
            return error
        }
    }

    @Test func friendlyAndProtocolLinesSendTheSameRequest() throws {
        let received = Received()
        let daemon = try FakeDaemon { received.answer($0) }
        let prompt = prompt(on: daemon)
        try prompt.run(line: #"rep add --team rail --ref ivan --name "Ivan Petrov""#)
        try prompt.run(line: #"rep.add team=rail ref=ivan name="Ivan Petrov""#)
        try prompt.run(line: #"{"cmd":"rep.add","args":{"team":"rail","ref":"ivan","name":"Ivan Petrov"}}"#)
        try prompt.run(line: "alerts --team=rail")
        try prompt.run(line: "alert.list team=rail")
        try prompt.run(line: "  status  ")
        let addition = try request(["rep", "add", "--team", "rail", "--ref", "ivan", "--name", "Ivan Petrov"])
        let alerts = try request(["alerts", "--team", "rail"])
        #expect(received.requests == [addition, addition, addition, alerts, alerts, try request(["status"])])
        #expect(addition == Request(id: "conveyorctl", cmd: "rep.add", args: ["team": "rail", "ref": "ivan", "name": "Ivan Petrov"]))
        #expect(daemon.connections == 1)
    }

    @Test func aBadLineFailsAsOnTheCommandLineAndTheSessionGoesOn() throws {
        let received = Received()
        let daemon = try FakeDaemon { received.answer($0) }
        let prompt = prompt(on: daemon)
        for words in [["rep", "add", "--bogus", "x"], ["rep", "add", "--team"], ["status", "extra"], ["rep"], ["Status"]] {
            let expected = try #require(parseFailure(words), "\(words) fails on the command line")
            #expect(failure(words.joined(separator: " "), at: prompt) == expected, "\(words)")
        }
        #expect(failure("status --json", at: prompt)?.exitCode == 2, "conveyorctl's own options are the prompt's")
        #expect(failure("watch --topics alerts", at: prompt)?.exitCode == 2, "a stream would hold the connection")
        #expect(failure(#"rep.add name="Ivan"#, at: prompt)?.message == "parse_error: unterminated quote")
        #expect(received.requests.isEmpty, "nothing was sent")
        try prompt.run(line: "status")
        #expect(received.requests == [try request(["status"])])
        #expect(daemon.connections == 1)
    }

    @Test func helpPrintsHere() throws {
        #expect(try PromptLine.read("rep add --help") == .print(try printed(["rep", "add", "--help"])))
        #expect(try PromptLine.read("help rep add") == .print(try printed(["help", "rep", "add"])))
        #expect(try PromptLine.read("help") == .send(Request(id: "conveyorctl", cmd: "help")), "help alone asks the daemon")
    }

    @Test func tabCompletesEverySpellingOfTheCommandLine() {
        let first = CommandCompletion.candidates(after: [])
        for name in ["rep", "rep.add", "alerts", "status", "history", "exit"] { #expect(first.contains(name), "\(name)") }
        #expect(Set(first).count == first.count)
        #expect(Set(CommandCompletion.candidates(after: ["rep"])) == ["list", "add", "update", "away", "back", "depart"])
        #expect(CommandCompletion.candidates(after: ["status"]).isEmpty)
    }
}
