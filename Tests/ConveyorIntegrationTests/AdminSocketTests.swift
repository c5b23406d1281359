import ConveyorDaemon
import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The admin protocol against the real `conveyord`: framing, requests, errors, limits,
/// roles from kernel credentials, auditing, and `conveyorctl` on top of it.
@Suite struct AdminSocketTests {
    /// A daemon on a fresh database; stopped when `body` returns.
    private func withDaemon(
        _ environment: [String: String] = [:], socketPath: String? = nil, _ body: (DaemonProcess) throws -> Void
    ) throws {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase(), environment: environment, socketPath: socketPath)
        defer { daemon.stop() }
        try body(daemon)
    }

    /// A daemon whose socket (group `nogroup`, in a folder anyone may enter)
    /// the user `nobody` can reach; `body` gets the daemon and the socket path.
    private func withDaemonNobodyReaches(
        _ environment: [String: String] = [:], _ body: (DaemonProcess, String) throws -> Void
    ) throws {
        try OtherUser.requireNobody()
        let directory = try TemporaryDirectory.make("cvy-role")
        defer { TemporaryDirectory.remove(directory) }
        #expect(chmod(directory, 0o755) == 0)
        let socket = directory + "/admin.sock"
        try withDaemon(environment.merging(["CONVEYOR_SOCKET_GROUP": "nogroup"]) { first, _ in first }, socketPath: socket) {
            try body($0, socket)
        }
    }

    private func expectError(
        _ response: Response, _ code: ErrorCode, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.errorCode == code, "\(comment.map { "\($0): " } ?? "")\(response.encodedLine())", sourceLocation: sourceLocation)
    }

    // MARK: - Greeting and requests

    @Test func greetingNamesDaemonProtocolVersionAndAdminRole() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            let line = try #require(client.greeting)
            #expect(line == #"{"hello":"conveyord","proto":1,"version":"\#(ConveyorVersion.current)","role":"admin"}"#)
            let greeting = try Greeting.parse(line: line)
            #expect(greeting.proto == 1)
            #expect(greeting.role == .admin)
        }
    }

    @Test func jsonPingEchoesStringAndNumberIDs() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            #expect(try client.send(#"{"id":"c1","cmd":"ping"}"#) == #"{"id":"c1","ok":true,"result":{"pong":true}}"#)
            #expect(try client.send(#"{"id":42,"cmd":"ping","args":{}}"#) == #"{"id":42,"ok":true,"result":{"pong":true}}"#)
            #expect(try client.response(#"{"id":-7,"cmd":"ping","args":null}"#) == .ok(id: .int(-7), result: ["pong": true]))
            // No id: none echoed.
            #expect(try client.send(#"{"cmd":"ping"}"#) == #"{"ok":true,"result":{"pong":true}}"#)
            // Unknown members are ignored; leading blanks are fine.
            #expect(try client.response(#"   {"id":"x","cmd":"ping","future":[1,2]}"#) == .ok(id: "x", result: ["pong": true]))
        }
    }

    @Test func wordsFormWithQuotedValues() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            #expect(try client.send("ping") == #"{"ok":true,"result":{"pong":true}}"#)
            #expect(try client.send("  ping  \r") == #"{"ok":true,"result":{"pong":true}}"#)
            #expect(try client.response("job.list state=dead") == .ok(id: nil, result: ["jobs": []]))
            #expect(try client.response(#"job.list state="dead""#) == .ok(id: nil, result: ["jobs": []]))
            #expect(try client.response(#"job.list "state=dead""#) == .ok(id: nil, result: ["jobs": []]))
            // Quotes keep a value with spaces together: the value is checked (invalid_argument),
            // it is not split into stray words (which would be bad_request).
            let spaced = try client.response(#"job.list state="dead or alive""#)
            expectError(spaced, .invalidArgument)
            if case .error(_, let error) = spaced { #expect(error.message.contains("state")) }
            expectError(try client.response(#"job.list state="dead"#), .parseError, "unterminated quote")
            #expect(try client.response("ping").isOK)
        }
    }

    @Test func fiftyPipelinedRequestsInOneWriteAnswerInOrder() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            let commands = ["ping", "status", "job.list", "version", "no.such.command", "help", "queue.stats"]
            let lines = (0..<50).map { index in
                Request(id: .int(Int64(index)), cmd: commands[index % commands.count]).encodedLine() + "\n"
            }
            #expect(try client.writeRaw(Array(lines.joined().utf8)))
            let answers = try client.readLines(50, timeout: .seconds(30)).map { try Response.parse(line: $0) }
            #expect(answers.map(\.id) == (0..<50).map { .int(Int64($0)) })
            for (index, answer) in answers.enumerated() {
                if commands[index % commands.count] == "no.such.command" {
                    expectError(answer, .unknownCommand)
                } else {
                    #expect(answer.isOK, "\(index): \(answer.encodedLine())")
                }
            }
            // Words-form requests pipelined too (no ids): ping answers come back in order with job.list's.
            #expect(try client.writeRaw(Array("ping\njob.list state=dead\nping\n".utf8)))
            let words = try client.readLines(3).map { try Response.parse(line: $0) }
            #expect(words == [
                .ok(id: nil, result: ["pong": true]), .ok(id: nil, result: ["jobs": []]), .ok(id: nil, result: ["pong": true]),
            ])
        }
    }

    /// `printf 'status\n' | socat - UNIX-CONNECT:…`: the client shuts down its writing
    /// side at once, and still gets its answer before the daemon closes.
    @Test func aHalfClosedClientGetsItsAnswerAndThenTheConnectionCloses() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            #expect(try client.writeRaw(Array("status\n".utf8)))
            client.shutdownWriting()
            let lines = try #require(client.linesUntilClosed(timeout: .seconds(30)), "the daemon kept the connection open")
            #expect(lines.count == 1)
            #expect(try Response.parse(line: try #require(lines.first)).isOK)
        }
    }

    /// Every one of fifty pipelined wins sent before the half-close is answered and
    /// recorded, in order.
    @Test func pipelinedWinsBeforeAHalfCloseAreAllAnsweredAndRecorded() throws {
        try withDaemon { daemon in
            let setup = try daemon.connect()
            #expect(try setup.response("team.add name=rail").isOK)
            #expect(try setup.response("rep.add team=rail ref=hunter role=closer").isOK)
            #expect(try setup.response("rep.add team=rail ref=m1 role=account_manager capacity=100").isOK)
            let client = try daemon.connect()
            let lines = (0..<50).map { Request(id: .int(Int64($0)), cmd: "win", args: ["team": "rail", "account": .string("acc-\($0)"), "hunter": "hunter"]).encodedLine() + "\n" }
            #expect(try client.writeRaw(Array(lines.joined().utf8)))
            client.shutdownWriting()
            let answers = try #require(client.linesUntilClosed(timeout: .seconds(30))).map { try Response.parse(line: $0) }
            #expect(answers.map(\.id) == (0..<50).map { .int(Int64($0)) })
            let refused = answers.filter { !$0.isOK }.map { $0.encodedLine() }
            #expect(refused.isEmpty, "\(refused.prefix(3))")
            let database = try TestPostgres.connect(daemon.databaseURL)
            let recorded = try database.query("select count(*) as wins from conveyor.accounts where ref like 'acc-%'")[0]["wins"].int()
            #expect(recorded == 50)
        }
    }

    /// A last line with no newline may be cut off (`drain` of `drain.x`, a JSON object
    /// missing its end): it gets bad_request and is never run.
    @Test func anUnterminatedLastLineIsABadRequestAndNeverRuns() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            #expect(try client.writeRaw(Array("ping\n{\"cmd\":\"drain\"}".utf8)))
            client.shutdownWriting()
            let answers = try #require(client.linesUntilClosed(timeout: .seconds(30))).map { try Response.parse(line: $0) }
            #expect(answers.count == 2)
            #expect(answers.first == .ok(id: nil, result: ["pong": true]))
            if let last = answers.last { expectError(last, .badRequest) }
            let status = try daemon.connect().response("status")
            #expect(status.result?["workers"]?["draining"] == .bool(false), "\(status.encodedLine())")
        }
    }

    /// `curl --unix-socket $SOCK -d '{"cmd":"drain"}' http://localhost/` sends this: one
    /// bad_request, the connection closes, and the body never runs.
    @Test func anHTTPRequestGetsOneBadRequestAndItsBodyNeverRuns() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            let http = "POST / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
                + "Content-Length: 15\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n{\"cmd\":\"drain\"}\n"
            #expect(try client.writeRaw(Array(http.utf8)))
            let answers = try #require(client.linesUntilClosed(timeout: .seconds(30)), "the daemon kept the connection open")
                .map { try Response.parse(line: $0) }
            #expect(answers.count == 1)
            if let answer = answers.first { expectError(answer, .badRequest) }
            #expect(try daemon.connect().result("status")["workers"]?["draining"] == false)
        }
    }

    @Test func aTLSHandshakeGetsOneBadRequestAndTheConnectionCloses() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            // the start of a TLS 1.2/1.3 ClientHello record
            #expect(try client.writeRaw([0x16, 0x03, 0x01, 0x00, 0xF1, 0x01, 0x00, 0x00, 0xED, 0x03, 0x03] + Array(repeating: 0x2A, count: 32)))
            let answers = try #require(client.linesUntilClosed(timeout: .seconds(30))).map { try Response.parse(line: $0) }
            #expect(answers.count == 1)
            if let answer = answers.first { expectError(answer, .badRequest) }
            #expect(try daemon.connect().response("ping").isOK)
        }
    }

    /// Up to `linesNotRequestsAllowed` lines in a row that are not requests are answered;
    /// the next closes the connection, so a request hidden behind them never runs. An
    /// unknown command is a request (unknown_command) and starts the count again.
    @Test func aConnectionThatKeepsSendingNonRequestsIsClosed() throws {
        try withDaemon { daemon in
            let allowed = AdminServer.linesNotRequestsAllowed
            let bad = Array(repeating: "}}}{{{\n", count: allowed).joined()
            func isNotARequest(_ response: Response) -> Bool { [.parseError, .badRequest].contains(response.errorCode) }

            let patient = try daemon.connect()
            #expect(try patient.writeRaw(Array((bad + "frobnicate\n" + bad + "ping\n").utf8)))
            let answers = try patient.readLines(2 * allowed + 2).map { try Response.parse(line: $0) }
            #expect(answers.prefix(allowed).allSatisfy(isNotARequest))
            expectError(answers[allowed], .unknownCommand)
            #expect(answers[(allowed + 1)...(2 * allowed)].allSatisfy(isNotARequest))
            #expect(answers.last == .ok(id: nil, result: ["pong": true]))

            let flooding = try daemon.connect()
            #expect(try flooding.writeRaw(Array((bad + "}}}{{{\n{\"cmd\":\"drain\"}\n").utf8)))
            let flood = try #require(flooding.linesUntilClosed(timeout: .seconds(30))).map { try Response.parse(line: $0) }
            #expect(flood.count == allowed + 2, "\(allowed + 1) answers and the closing one: \(flood.map { $0.encodedLine() })")
            #expect(flood.allSatisfy(isNotARequest))
            #expect(try daemon.connect().result("status")["workers"]?["draining"] == false)
        }
    }

    @Test func aRepeatedKeyIsRefusedAndNothingRuns() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            expectError(try client.response(#"{"cmd":"ping","cmd":"shutdown"}"#), .parseError)
            expectError(try client.response(#"{"cmd":"ping","\u0063md":"drain"}"#), .parseError)
            #expect(try client.result("status")["workers"]?["draining"] == false)
        }
    }

    /// Blank lines get no answer, but a flood of them is not a client: it closes like
    /// any run of lines that are not requests.
    @Test func aFloodOfBlankLinesClosesTheConnection() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            #expect(try client.writeRaw(Array(String(repeating: "\n", count: 100_000).utf8)))
            let lines = try #require(client.linesUntilClosed(timeout: .seconds(30)), "the connection stayed open")
            #expect(lines.count == 1)
            if let line = lines.first { expectError(try Response.parse(line: line), .badRequest) }
            #expect(try daemon.connect().response("ping").isOK)
        }
    }

    @Test func helpListsCommandsWithArgsAndMinimumRoles() throws {
        try withDaemon { daemon in
            let result = try daemon.connect().result("help")
            let commands = try #require(result["commands"]?.arrayValue)
            var roles: [String: String] = [:]
            for command in commands {
                let name = try #require(command["name"]?.stringValue)
                roles[name] = command["min_role"]?.stringValue
                #expect(command["args"]?.arrayValue != nil, "\(name) lists its args")
            }
            #expect(roles["ping"] == "viewer")
            #expect(roles["status"] == "viewer")
            #expect(roles["version"] == "viewer")
            #expect(roles["help"] == "viewer")
            #expect(roles["job.cancel"] == "operator")
            #expect(roles["drain"] == "admin")
            #expect(roles["shutdown"] == "admin")
            let logLevel = try #require(commands.first { $0["name"] == "log.level" })
            #expect(logLevel["args"]?.arrayValue?.contains { $0["name"] == "level" && $0["required"] == true } == true)
        }
    }

    @Test func statusReportsUptimeWorkersDatabaseAndQueue() throws {
        try withDaemon { daemon in
            let status = try daemon.connect().result("status")
            let uptime = try #require(status["uptime_seconds"]?.doubleValue)
            #expect(uptime >= 0 && uptime < 600)
            #expect(status["workers"]?["configured"] == .int(2))
            #expect(status["workers"]?["draining"] == false)
            #expect(status["database"]?["reachable"] == true)
            #expect(status["queue"]?.objectValue != nil)
            #expect(status["pid"] == .int(Int64(daemon.pid)))
        }
    }

    @Test func versionReportsDaemonProtocolLibpqAndServer() throws {
        try withDaemon { daemon in
            let version = try daemon.connect().result("version")
            #expect(version["version"] == .string(ConveyorVersion.current))
            #expect(version["proto"] == 1)
            let libpq = try #require(version["libpq"]?.stringValue)
            #expect(libpq.first?.isNumber == true && libpq.contains("."), "libpq \(libpq)")
            let server = try #require(version["server"]?.stringValue)
            let database = try TestPostgres.connect(daemon.databaseURL)
            let actual = try database.query("show server_version")[0]["server_version"].string()
            #expect(server == actual)
        }
    }

    @Test func metricsAreAPrometheusExposition() throws {
        try withDaemon { daemon in
            let text = try #require(try daemon.connect().result("metrics")["text"]?.stringValue)
            #expect(text.contains("# TYPE "))
            #expect(text.contains("conveyor_"))
        }
    }

    // MARK: - Bad input

    @Test func garbageGetsAnErrorAndTheConnectionStaysUsable() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            let garbage: [[UInt8]] = [
                [0x00, 0x01, 0x02, 0x7F, 0x1B, 0x5B, 0x32, 0x4A],  // control bytes, an ANSI escape
                Array("\u{7}\u{8}\u{0} ping".utf8),
                Array("}}}{{{".utf8),
                Array(#""ping"#.utf8),
                Array((0..<255).map { UInt8($0) }.filter { $0 != 0x0A }),  // every byte but the newline
            ]
            for bytes in garbage {
                #expect(try client.writeRaw(bytes + [0x0A]))
                let answer = try Response.parse(line: try #require(try client.readLine()))
                #expect([.parseError, .badRequest].contains(answer.errorCode), "\(bytes.prefix(16)): \(answer.encodedLine())")
                #expect(answer.id == nil)
                #expect(try client.response("ping").isOK, "usable after \(bytes.prefix(16))")
            }
        }
    }

    /// The protocol is UTF-8: bytes that are not UTF-8 are a parse error, never silently
    /// replaced by U+FFFD and taken as a (different) request.
    @Test func invalidUTF8IsAParseError() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            let lines: [[UInt8]] = [
                [0xFF, 0xFE, 0xFD, 0x80],
                Array("ping ".utf8) + [0xC3, 0x28],
                Array(#"{"id":"u","cmd":"job.list","args":{"state":"dead"#.utf8) + [0xFF] + Array(#""}}"#.utf8),
            ]
            for bytes in lines {
                #expect(try client.writeRaw(bytes + [0x0A]))
                let answer = try Response.parse(line: try #require(try client.readLine()))
                expectError(answer, .parseError, "\(bytes.suffix(8))")
                #expect(try client.response("ping").isOK)
            }
        }
    }

    @Test func malformedRequestsAreParseErrorsOrBadRequests() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            expectError(try client.response("{"), .parseError)
            expectError(try client.response(#"{"id":"a","cmd":"ping""#), .parseError)
            expectError(try client.response("[]"), .badRequest)
            expectError(try client.response(#"{"cmd":5}"#), .badRequest)
            expectError(try client.response(#"{"id":"a"}"#), .badRequest)
            expectError(try client.response(#"{"cmd":"ping","args":[]}"#), .badRequest)
            expectError(try client.response(#"{"id":[1],"cmd":"ping"}"#), .badRequest)
            expectError(try client.response(#"{"cmd":"PING"}"#), .badRequest)
            expectError(try client.response("ping loose-word"), .badRequest)
            expectError(try client.response("job.list state=dead state=dead"), .badRequest)
            // A rejected JSON request still gets its id back when it has a usable one.
            #expect(try client.response(#"{"id":"x","cmd":5}"#) == .error(id: "x", ProtocolError(.badRequest, #""cmd" must be a string"#)))
            #expect(try client.response("ping").isOK)
        }
    }

    @Test func commandAndArgumentErrors() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            expectError(try client.response("frobnicate"), .unknownCommand)
            expectError(try client.request("team.frobnicate", id: "u"), .unknownCommand)
            expectError(try client.response("ping x=1"), .invalidArgument)
            expectError(try client.response("job.retry id=abc"), .invalidArgument)
            expectError(try client.response("job.retry id=0"), .invalidArgument)
            expectError(try client.response("job.retry id=99999999999999999999999"), .invalidArgument)
            expectError(try client.response("job.retry"), .invalidArgument)
            expectError(try client.response("job.list state=exploded"), .invalidArgument)
            expectError(try client.response("log.level"), .invalidArgument)
            expectError(try client.response("job.retry id=99999"), .notFound)
            expectError(try client.request("job.cancel", ["id": 99_999], id: 3), .notFound)
            #expect(try client.request("job.cancel", ["id": 99_999], id: 3).id == .int(3))
        }
    }

    @Test func anOversizedLineGetsTooLargeAndTheConnectionCloses() throws {
        try withDaemon { daemon in
            // With a newline at the end.
            let client = try daemon.connect()
            let line = Array(#"{"id":"big","cmd":"ping","pad":""#.utf8) + [UInt8](repeating: 0x61, count: 100_000) + Array("\"}\n".utf8)
            _ = try client.writeRaw(line)  // the daemon may close before we finish: that is fine
            let lines = try #require(client.linesUntilClosed(timeout: .seconds(30)), "the connection must close")
            #expect(lines.count == 1, "\(lines)")
            expectError(try Response.parse(line: try #require(lines.first)), .tooLarge)

            // Without ever sending a newline: refused as soon as it passes the limit.
            let endless = try daemon.connect()
            _ = try endless.writeRaw([UInt8](repeating: 0x62, count: 100_000))
            let answer = try #require(endless.linesUntilClosed(timeout: .seconds(30)), "the connection must close")
            #expect(answer.count == 1)
            expectError(try Response.parse(line: try #require(answer.first)), .tooLarge)

            // A line just under the limit is still served.
            let fits = try daemon.connect()
            let padding = String(repeating: "c", count: 65_000)
            #expect(try fits.response(#"{"id":"fits","cmd":"ping","pad":"\#(padding)"}"#) == .ok(id: "fits", result: ["pong": true]))
            #expect(try daemon.connect().response("ping").isOK)
        }
    }

    @Test func aLineSplitAcrossManySmallWritesIsOneRequest() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            // One byte per write.
            for byte in Array(#"{"id":"split","cmd":"ping"}"#.utf8) + [0x0A] {
                #expect(try client.writeRaw([byte]))
                usleep(1_000)
            }
            #expect(try Response.parse(line: try #require(try client.readLine())) == .ok(id: "split", result: ["pong": true]))
            // An 8 KB line (CRLF-terminated) in 97-byte pieces.
            let padding = String(repeating: "p", count: 8_000)
            let big = Array(#"{"id":"chunks","cmd":"job.list","args":{"state":"dead"},"pad":"\#(padding)"}"#.utf8) + Array("\r\n".utf8)
            var offset = 0
            while offset < big.count {
                let end = min(offset + 97, big.count)
                #expect(try client.writeRaw(Array(big[offset..<end])))
                offset = end
                usleep(200)
            }
            #expect(try Response.parse(line: try #require(try client.readLine())) == .ok(id: "chunks", result: ["jobs": []]))
            // A words-form line in two writes, the newline alone in the second.
            #expect(try client.writeRaw(Array("pi".utf8)))
            usleep(20_000)
            #expect(try client.writeRaw(Array("ng\n".utf8)))
            #expect(try client.readLine() == #"{"ok":true,"result":{"pong":true}}"#)
        }
    }

    /// The test runs as root, an admin: 64 connections and the 4 kept for admins.
    @Test func connectionsBeyondSixtyFourAndTheAdminsFourAreRefused() throws {
        try withDaemon { daemon in
            // Let the start-up probe's connection be gone before counting.
            #expect(try daemon.connect().response("ping").isOK)
            usleep(200_000)
            var clients: [AdminClient] = []
            defer { clients.forEach { $0.close() } }
            for _ in 0..<70 {
                clients.append(try AdminClient(path: daemon.socketPath, readGreeting: false, timeout: .seconds(30)))
            }
            var greeted: [AdminClient] = []
            var refused = 0
            for client in clients {
                let first = try #require(try client.readLine(), "every connection gets a first line")
                if (try? Greeting.parse(line: first)) != nil {
                    greeted.append(client)
                } else {
                    expectError(try Response.parse(line: first), .tooManyConnections)
                    refused += 1
                    #expect(client.linesUntilClosed(timeout: .seconds(30)) == [], "a refused connection is closed")
                }
            }
            #expect(greeted.count == 64 + Limits.adminReservedConnections)
            #expect(refused == 70 - 64 - Limits.adminReservedConnections)
            // The admitted ones still work.
            #expect(try greeted.last?.response("ping").isOK == true)
            // Once they close, newcomers are admitted again.
            clients.forEach { $0.close() }
            let deadline = ContinuousClock.now + .seconds(30)
            var admitted = false
            while !admitted, ContinuousClock.now < deadline {
                let client = try AdminClient(path: daemon.socketPath, readGreeting: false)
                let first = try client.readLine() ?? ""
                admitted = (try? Greeting.parse(line: first)) != nil
                if !admitted { usleep(50_000) }
            }
            #expect(admitted)
        }
    }

    /// Viewers who hold every connection (a few dribbling clients did, before) do not
    /// lock the admins out: 4 connections beyond the limit are theirs alone.
    @Test func viewersHoldingEveryConnectionLeaveRoomForAdmins() throws {
        try withDaemonNobodyReaches(["CONVEYOR_MAX_CONNECTIONS": "3"]) { daemon, socket in
            let directory = try TemporaryDirectory.make("cvy-hold")
            defer { TemporaryDirectory.remove(directory) }
            // As nobody: open four connections, print each first line, then hold them.
            let script = #"""
                use IO::Socket::UNIX; $| = 1; my @held;
                for (1..4) { my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n"; my $l = <$s>; print $l; push @held, $s; }
                print "ready\n"; sleep 60;
                """#
            let holder = try Spawn.start(
                ["/usr/sbin/runuser", "-u", OtherUser.nobody.name, "-g", OtherUser.nobody.group, "--", "/usr/bin/perl", "-e", script, socket],
                stdout: directory + "/out", stderr: directory + "/err")
            defer { kill(holder, SIGKILL); _ = Spawn.wait(holder, timeout: .seconds(5)) }
            let deadline = ContinuousClock.now + .seconds(30)
            var held: [String] = []
            while ContinuousClock.now < deadline {
                held = (try? String(contentsOfFile: directory + "/out", encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
                if held.last == "ready" { break }
                usleep(50_000)
            }
            #expect(held.count == 5, "\(held)")
            #expect(held.prefix(3).allSatisfy { (try? Greeting.parse(line: $0))?.role == .viewer }, "\(held)")
            if held.count > 3 { expectError(try Response.parse(line: held[3]), .tooManyConnections) }

            var admins: [AdminClient] = []
            for _ in 0..<Limits.adminReservedConnections { admins.append(try daemon.connect()) }
            #expect(try admins.last?.response("status").isOK == true)
            #expect(admins.allSatisfy { (try? Greeting.parse(line: $0.greeting ?? ""))?.role == .admin })
            let oneTooMany = try AdminClient(path: daemon.socketPath, readGreeting: false)
            expectError(try Response.parse(line: try #require(try oneTooMany.readLine())), .tooManyConnections)
        }
    }

    /// A request line must arrive whole within line_timeout of its first byte, however
    /// busily its bytes dribble in; a slow but complete line is fine.
    ///
    /// line_timeout is 5 s: the slow line's half a second between its writes leaves the
    /// test 4.5 s to be late on a loaded machine. The dribbler keeps sending a byte every
    /// 100 ms for up to 30 s: cut off at the line timeout it is closed long before
    /// `cutWithin`; a timeout counted from the last byte would close it only at 35 s.
    @Test func aDribbledLineIsCutOffAtTheLineTimeout() throws {
        let cutWithin = Duration.seconds(20)
        try withDaemon(["CONVEYOR_LINE_TIMEOUT": "5"]) { daemon in
            let slow = try daemon.connect()
            #expect(try slow.writeRaw(Array("pi".utf8)))
            usleep(500_000)
            #expect(try slow.writeRaw(Array("ng\n".utf8)))
            #expect(try Response.parse(line: try #require(try slow.readLine())).isOK)
            usleep(5_500_000)
            #expect(try slow.response("ping").isOK, "an idle connection is not a late line")

            let dribbler = try daemon.connect()
            let started = ContinuousClock.now
            for byte in Array(#"{"cmd":"status","args":{"pad":""#.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 300) {
                guard (try? dribbler.writeRaw([byte])) == true else { break }
                usleep(100_000)
                if ContinuousClock.now - started > .seconds(30) { break }
            }
            let closed = dribbler.linesUntilClosed(timeout: .seconds(30))
            let elapsed = ContinuousClock.now - started
            let lines = try #require(closed, "the dribbling connection stayed open")
            #expect(lines.count == 1)
            if let line = lines.first { expectError(try Response.parse(line: line), .timeout) }
            #expect(elapsed < cutWithin, "closed after \(elapsed)")
        }
    }

    /// idle_timeout is 5 s: closed after it, and long before `closedWithin` (a connection
    /// that is never closed stays open until the wait for it ends, later still). A
    /// connection in use sends a request every half second for 6 s, leaving 4.5 s to
    /// spare at each before it would count as idle.
    @Test func idleConnectionsAreClosedAfterTheIdleTimeout() throws {
        let closedWithin = Duration.seconds(20)
        try withDaemon(["CONVEYOR_IDLE_TIMEOUT": "5"]) { daemon in
            let idle = try daemon.connect()
            let started = ContinuousClock.now
            let lines = idle.linesUntilClosed(timeout: closedWithin + .seconds(10))
            let elapsed = ContinuousClock.now - started
            #expect(lines == [], "the idle connection is closed without another line")
            #expect(elapsed >= .milliseconds(3_500) && elapsed < closedWithin, "closed after \(elapsed)")

            // A connection in use is not idle.
            let busy = try daemon.connect()
            for _ in 0..<12 {
                usleep(500_000)
                #expect(try busy.response("ping").isOK)
            }
        }
    }

    @Test func aSlowReaderCannotGrowTheDaemonsMemory() throws {
        try withDaemon { daemon in
            let before = try #require(daemon.residentKilobytes)
            let slow = try daemon.connect()
            // `help` answers are ~3 KB: write requests for 4 s and never read an answer.
            let burst = Array(String(repeating: "help\n", count: 2_000).utf8)
            var sent = 0
            var stalledSince: ContinuousClock.Instant?
            let deadline = ContinuousClock.now + .seconds(4)
            while ContinuousClock.now < deadline {
                let count = try slow.writeSome(burst)
                sent += count
                if count == 0 {
                    if stalledSince == nil { stalledSince = .now }
                    if let stalledSince, ContinuousClock.now - stalledSince > .seconds(1) { break }
                    usleep(5_000)
                } else {
                    stalledSince = nil
                }
            }
            #expect(sent > 100_000, "the test really pushed requests (\(sent) bytes)")
            let other = try daemon.connect()
            #expect(try other.response("ping", timeout: .seconds(30)).isOK)
            let after = try #require(daemon.residentKilobytes)
            #expect(after < 200 * 1024, "RSS grew from \(before) KiB to \(after) KiB")
            #expect(after - before < 100 * 1024, "RSS grew from \(before) KiB to \(after) KiB")
            // The slow reader's answers were kept (back-pressure, not dropped): the first ones are there, in order.
            for _ in 0..<3 {
                let answer = try Response.parse(line: try #require(try slow.readLine(timeout: .seconds(30))))
                #expect(answer.result?["commands"] != nil)
            }
            #expect(daemon.isRunning)
        }
    }

    // MARK: - Roles, modes, audit

    @Test func socketDirectoryIsCreated0750AndSocketIs0660() throws {
        let parent = try TemporaryDirectory.make("cvy-mode")
        defer { TemporaryDirectory.remove(parent) }
        let socket = parent + "/run/admin.sock"
        try withDaemon(socketPath: socket) { daemon in
            let directory = try #require(Files.mode(parent + "/run"))
            #expect(directory.mode == 0o750, "directory mode \(String(directory.mode, radix: 8))")
            let file = try #require(Files.mode(socket))
            #expect(file.isSocket)
            #expect(file.mode == 0o660, "socket mode \(String(file.mode, radix: 8))")
            #expect(file.gid == getgid())
            #expect(try daemon.connect().response("ping").isOK)
        }
    }

    /// A socket directory the daemon creates belongs to socket_group (it used to be
    /// root's, and members got EACCES): a member connects, anyone else cannot.
    @Test func aCreatedSocketDirectoryBelongsToTheSocketGroup() throws {
        try OtherUser.requireNobody()
        let parent = try TemporaryDirectory.make("cvy-group")
        defer { TemporaryDirectory.remove(parent) }
        #expect(chmod(parent, 0o755) == 0)
        let socket = parent + "/run/admin.sock"
        try withDaemon(["CONVEYOR_SOCKET_GROUP": OtherUser.nobody.group], socketPath: socket) { _ in
            let directory = try #require(Files.mode(parent + "/run"))
            #expect(directory.mode == 0o750 && directory.gid == OtherUser.nogroupGID, "\(directory)")
            #expect(try Greeting.parse(line: try OtherUser.greeting(socket: socket, as: OtherUser.nobody)).role == .viewer)
        }
        let elsewhere = parent + "/root-only/admin.sock"
        try withDaemon(socketPath: elsewhere) { daemon in
            let pong = try daemon.connect().response("ping")
            #expect(pong.isOK)
            #expect(throws: TestSetupError.self, "nobody is not in the socket's group") {
                try OtherUser.greeting(socket: elsewhere, as: OtherUser.nobody)
            }
        }
    }

    @Test func anotherUserIsViewerThroughTheSocketGroup() throws {
        try withDaemonNobodyReaches { daemon, socket in
            let file = try #require(Files.mode(socket))
            #expect(file.mode == 0o660, "socket mode \(String(file.mode, radix: 8))")
            #expect(file.gid == OtherUser.nogroupGID)

            let greeting = try Greeting.parse(line: try OtherUser.greeting(socket: socket, as: OtherUser.nobody))
            #expect(greeting.role == .viewer)

            let ping = try daemon.ctl(["--json", "ping"], asUser: OtherUser.nobody)
            #expect(ping.status == 0, "\(ping)")
            #expect(ping.stdout == "{\"pong\":true}\n")
            let status = try daemon.ctl(["--json", "status"], asUser: OtherUser.nobody)
            #expect(status.status == 0, "viewers read: \(status)")

            let drain = try daemon.ctl(["drain"], asUser: OtherUser.nobody)
            #expect(drain.status == 16, "\(drain)")
            #expect(drain.stderr.contains("permission_denied"))
            let cancel = try daemon.ctl(["job.cancel", "id=1"], asUser: OtherUser.nobody)
            #expect(cancel.status == 16, "a viewer cannot change data: \(cancel)")
            // Nothing was drained.
            #expect(try daemon.connect().result("status")["workers"]?["draining"] == false)
        }
    }

    @Test func operatorGroupsMakeAnotherUserOperator() throws {
        try withDaemonNobodyReaches(["CONVEYOR_OPERATOR_GROUPS": "staff, nogroup"]) { daemon, socket in
            let greeting = try Greeting.parse(line: try OtherUser.greeting(socket: socket, as: OtherUser.nobody))
            #expect(greeting.role == .operator)
            let cancel = try daemon.ctl(["job.cancel", "id=1"], asUser: OtherUser.nobody)
            #expect(cancel.status == 14, "an operator reaches the command (not_found, not permission_denied): \(cancel)")
            #expect(cancel.stderr.contains("not_found"))
            let drain = try daemon.ctl(["drain"], asUser: OtherUser.nobody)
            #expect(drain.status == 16, "drain stays admin-only: \(drain)")

            let database = try TestPostgres.connect(daemon.databaseURL)
            let audit = try database.query(
                "select uid, role, command, ok, error_code from conveyor.admin_audit where command = 'job.cancel'")
            #expect(audit.count == 1)
            if let row = audit.first {
                #expect(try row["uid"].int64() == Int64(OtherUser.nobodyUID))
                #expect(try row["role"].string() == "operator")
                #expect(try row["ok"].bool() == false)
                #expect(try row["error_code"].optionalString() == "not_found")
            }
        }
    }

    /// `operator_teams`: an operator of team rail changes rail (by name and by the
    /// id of its job or alert) and gets `permission_denied`, audited, on team sea.
    @Test func aScopedOperatorChangesOnlyItsTeams() throws {
        try withDaemonNobodyReaches(["CONVEYOR_OPERATOR_TEAMS": "nogroup:rail+rail-east"]) { daemon, socket in
            #expect(try Greeting.parse(line: try OtherUser.greeting(socket: socket, as: OtherUser.nobody)).role == .operator)
            let admin = try daemon.connect()
            for team in ["rail", "sea"] {
                _ = try admin.result("team.add", ["name": .string(team)])
                _ = try admin.result("rep.add", ["team": .string(team), "ref": "ivan", "role": "closer"])
                _ = try admin.result("team.pause", ["name": .string(team)])
            }
            let database = try TestPostgres.connect(daemon.databaseURL)
            func job(_ team: String) throws -> String {
                let id = try admin.result("win", ["team": .string(team), "account": "acme", "hunter": "ivan"])["job_id"]?.intValue
                return "id=\(try #require(id))"
            }
            let (railJob, seaJob) = (try job("rail"), try job("sea"))
            // Scans keep their team in the payload, not in team_id.
            func scanJob(_ team: String) throws -> String {
                "id=" + String(try HandoffDaemon.int(database, """
                    insert into conveyor.jobs (kind, payload, run_at)
                    select 'scan', jsonb_build_object('team_id', id, 'trigger', 'manual', 'digest', false), now() + interval '1 day'
                    from conveyor.teams where name = $1 returning id
                    """, [team]))
            }
            let (railScan, seaScan) = (try scanJob("rail"), try scanJob("sea"))
            #expect(eventually { (try? HandoffDaemon.int(database, "select count(*) from conveyor.jobs where state = 'waiting'")) == 2 })
            func ctl(_ words: [String]) throws -> CommandResult { try daemon.ctl(words, asUser: OtherUser.nobody) }

            for allowed in [["job.cancel", railJob], ["job.cancel", railScan], ["rep.add", "team=rail", "ref=olga", "role=account_manager"],
                            ["team.resume", "name=rail"], ["team.add", "name=rail-east"]] {
                let result = try ctl(allowed)
                #expect(result.status == 0, "\(allowed): \(result)")
            }
            for denied in [["rep.add", "team=sea", "ref=olga", "role=account_manager"], ["team.resume", "name=sea"],
                           ["team.add", "name=air"], ["job.cancel", seaJob], ["job.cancel", seaScan], ["job.cancel", "id=999999"],
                           ["alert.ack", "id=1"]] {
                let result = try ctl(denied)
                #expect(result.status == 16, "\(denied): \(result)")
                #expect(result.stderr.contains("you operate \"rail\", \"rail-east\" only"), "\(result.stderr)")
            }
            // Reading stays open to every team.
            #expect(try ctl(["rep.list", "team=sea"]).status == 0)
            #expect(try HandoffDaemon.int(database, "select count(*) from conveyor.reps r join conveyor.teams t on t.id = r.team_id where t.name = 'sea'") == 1)
            #expect(try HandoffDaemon.int(database, "select count(*) from conveyor.jobs where state = 'waiting'") == 1, "sea's job was not cancelled")
            #expect(try HandoffDaemon.int(database, """
                select count(*) from conveyor.admin_audit where uid = \(OtherUser.nobodyUID) and error_code = 'permission_denied'
                """) == 7)
        }
    }

    @Test func stateChangingCommandsAreAudited() throws {
        try withDaemon { daemon in
            let client = try daemon.connect()
            #expect(try client.response("drain").isOK)
            #expect(try client.response("resume").isOK)
            expectError(try client.response("job.cancel id=424242"), .notFound)
            #expect(try client.response("log.level level=info").isOK)
            // Reads are not audited.
            #expect(try client.response("ping").isOK)
            #expect(try client.response("status").isOK)
            #expect(try client.response("job.list").isOK)

            let database = try TestPostgres.connect(daemon.databaseURL)
            let rows = try database.query(
                "select uid, pid, role, command, args::text as args, ok, error_code from conveyor.admin_audit order by id")
            let commands = try rows.map { try $0["command"].string() }
            #expect(commands == ["drain", "resume", "job.cancel", "log.level"])
            for row in rows {
                #expect(try row["uid"].int64() == Int64(getuid()))
                #expect(try row["pid"].int64() == Int64(getpid()), "pid of the connecting process")
                #expect(try row["role"].string() == "admin")
            }
            if rows.count == 4 {
                #expect(try rows[0]["ok"].bool() == true)
                #expect(try rows[0]["error_code"].optionalString() == nil)
                #expect(try rows[2]["ok"].bool() == false)
                #expect(try rows[2]["error_code"].optionalString() == "not_found")
                #expect(try rows[2]["args"].string() == #"{"id": "424242"}"#)
                #expect(try rows[3]["args"].string() == #"{"level": "info"}"#)
            }
        }
    }

    /// A refused attempt at a state-changing command is exactly what an audit trail is for.
    @Test func deniedStateChangingCommandsAreAudited() throws {
        try withDaemonNobodyReaches { daemon, socket in
            let drain = try daemon.ctl(["drain"], asUser: OtherUser.nobody)
            #expect(drain.status == 16, "\(drain)")
            let database = try TestPostgres.connect(daemon.databaseURL)
            let rows = try database.query("select uid, role, command, ok, error_code from conveyor.admin_audit")
            #expect(rows.count == 1, "the denied drain is audited")
            if let row = rows.first {
                #expect(try row["uid"].int64() == Int64(OtherUser.nobodyUID))
                #expect(try row["role"].string() == "viewer")
                #expect(try row["command"].string() == "drain")
                #expect(try row["ok"].bool() == false)
                #expect(try row["error_code"].optionalString() == "permission_denied")
            }
        }
    }

    /// 300 refused drains with 60 KB of arguments each: one audit row that counts them
    /// all, its arguments cut to 4 KB. A different refused command is a row of its own.
    @Test func aBurstOfIdenticalRefusedCommandsIsOneCountedAuditRow() throws {
        try withDaemonNobodyReaches { daemon, socket in
            let script = #"""
                use IO::Socket::UNIX; my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n"; <$s>;
                my $pad = "x" x 60000; my $denied = 0;
                for (1..300) { print $s "{\"cmd\":\"drain\",\"args\":{\"pad\":\"$pad\"}}\n"; my $l = <$s>; $denied++ if $l =~ /permission_denied/; }
                print $s "job.cancel id=1\n"; my $l = <$s>; $denied++ if $l =~ /permission_denied/;
                print "$denied\n";
                """#
            let result = try Spawn.run(
                ["/usr/sbin/runuser", "-u", OtherUser.nobody.name, "-g", OtherUser.nobody.group, "--", "/usr/bin/perl", "-e", script, socket],
                timeout: .seconds(60))
            #expect(result.stdout == "301\n", "\(result)")
            let database = try TestPostgres.connect(daemon.databaseURL)
            let rows = try database.query("""
                select command, repeats, octet_length(args::text) as bytes, args ->> 'truncated' as truncated, last_at >= at as ordered
                from conveyor.admin_audit order by id
                """)
            #expect(rows.count == 2)
            if rows.count == 2 {
                #expect(try rows[0]["command"].string() == "drain")
                #expect(try rows[0]["repeats"].int() == 300)
                #expect(try rows[0]["bytes"].int() <= 4096 + 64)
                #expect(try rows[0]["truncated"].optionalString() == "true")
                #expect(try rows[0]["ordered"].bool())
                #expect(try rows[1]["command"].string() == "job.cancel")
                #expect(try rows[1]["repeats"].int() == 1)
            }
        }
    }

    // MARK: - conveyorctl

    @Test func conveyorctlPingPrintsPong() throws {
        try withDaemon { daemon in
            let human = try daemon.ctl(["ping"])
            #expect(human.status == 0, "\(human)")
            #expect(human.stdout.contains("pong"))
            #expect(human.stderr.isEmpty)
            let json = try daemon.ctl(["--json", "ping"])
            #expect(json.stdout == "{\"pong\":true}\n")
            // The socket from CONVEYOR_ADMIN_SOCKET when --socket is not given.
            let fromEnvironment = try Conveyorctl.run(["--json", "ping"], socket: nil, environment: ["CONVEYOR_ADMIN_SOCKET": daemon.socketPath])
            #expect(fromEnvironment.status == 0, "\(fromEnvironment)")
            #expect(fromEnvironment.stdout == "{\"pong\":true}\n")
        }
    }

    @Test func conveyorctlJSONStatusIsOneJSONObject() throws {
        try withDaemon { daemon in
            let result = try daemon.ctl(["--json", "status"])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.hasSuffix("\n") && result.stdout.filter { $0 == "\n" }.count == 1)
            let status = try JSONValue(parsing: result.stdout)
            #expect(status["database"]?["reachable"] == true)
            #expect(status["workers"]?["configured"] == 2)
            // Words after the command are arguments.
            let jobs = try daemon.ctl(["--json", "job.list", "state=dead"])
            #expect(jobs.status == 0, "\(jobs)")
            #expect(try JSONValue(parsing: jobs.stdout) == ["jobs": []])
        }
    }

    @Test func conveyorctlExitCodeFollowsTheErrorCode() throws {
        try withDaemon { daemon in
            let notFound = try daemon.ctl(["job.retry", "id=99999"])
            #expect(notFound.status == ErrorCode.notFound.exitCode)
            #expect(notFound.status == 14)
            #expect(notFound.stderrLines.count == 1 && notFound.stderr.contains("not_found"), "\(notFound)")
            #expect(notFound.stdout.isEmpty)
            #expect(try daemon.ctl(["job.retry", "id=abc"]).status == 13)
            #expect(try daemon.ctl(["no.such.command"]).status == 12)
            #expect(try daemon.ctl(["ping", "extra=1"]).status == 13)
        }
    }

    @Test func conveyorctlWithoutADaemonExits3WithOneLine() throws {
        let directory = try TemporaryDirectory.make("cvy-none")
        defer { TemporaryDirectory.remove(directory) }
        let result = try Conveyorctl.run(["ping"], socket: directory + "/admin.sock")
        #expect(result.status == 3, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderr.hasPrefix("conveyorctl: ") && result.stderr.contains(directory + "/admin.sock"))
        #expect(result.stdout.isEmpty)
    }

    @Test func conveyorctlWordWithoutEqualsIsAUsageError() throws {
        let directory = try TemporaryDirectory.make("cvy-none")
        defer { TemporaryDirectory.remove(directory) }
        let result = try Conveyorctl.run(["job.retry", "42"], socket: directory + "/admin.sock")
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.hasPrefix("conveyorctl: "))
        #expect(result.stderr.contains("42"))
        let missing = try Conveyorctl.run([], socket: directory + "/admin.sock")
        #expect(missing.status == 2, "\(missing)")
    }
}
