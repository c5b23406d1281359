@testable import ConveyorCLI
import Testing

/// Garbage on the command line is a usage error (exit 2) before anything is sent, with a
/// message that names the problem.
@Suite struct HostileArgumentTests {
    @Test(arguments: [
        (["rep", "add", "--bogus", "x"], "Unknown option '--bogus'"),
        (["--bogus", "status"], "unknown option \"--bogus\""),
        (["rep", "add", "--team"], "Missing value for '--team <team>'"),
        (["--timeout"], "Missing value for '--timeout <seconds>'"),
        (["--timeout", "soon", "ping"], "The value 'soon' is invalid for '--timeout <seconds>'"),
        (["--timeout", "86401", "ping"], "The value '86401' is invalid for '--timeout <seconds>'"),
        (["rep.add", "team=rail", "team=customs"], "argument 'team' given twice"),
        (["rep", "add", "--team", "rail", "team=customs"], "argument 'team' given twice"),
        (["rep", "depart", "--team", "rail", "--ref", "ivan", "--team", "customs"], "--team given twice"),
        (["rep", "depart", "--team=rail", "--team=customs"], "--team given twice"),
        (["job.retry", "42"], "expected key=value after the command, got \"42\""),
        (["job.retry", "=42"], "expected key=value after the command, got \"=42\""),
        (["rep", "add", "--name", "\u{1B}[2J\u{1B}[31mred"], "argument 'name' contains a control character: \"\\u001b[2J"),
        (["rep.add", "name=a\rb"], "argument 'name' contains a control character: \"a\\rb\""),
        (["rep.add", "na\u{7}me=x"], "argument name \"na\\u0007me\" contains a control character"),
        (["\u{1B}]0;pwned\u{7}"], "is not a command"),
        (["RM", "x=1"], "\"RM\" is not a command"),
        (["rep"], "rep needs a subcommand"),
        (["watch", "--watch"], "watch streams already: leave out --watch"),
        (["rep", "add", "--watch", "--team", "rail"], "--watch repeats only read-only commands; rep.add changes things"),
        (["no.such", "--watch"], "--watch repeats only commands conveyorctl knows to be read-only"),
        (["--watch"], "--watch needs a command to repeat"),
    ])
    func isAUsageError(arguments: [String], message: String) throws {
        let failure = try #require(parseFailure(arguments), "\(arguments) must not parse")
        #expect(failure.exitCode == 2)
        #expect(failure.message.contains(message), "\(failure.message)")
    }

    @Test func aMegabyteArgumentIsRefused() throws {
        let huge = String(repeating: "x", count: 1 << 20)
        for arguments in [["rep.add", "name=" + huge], ["rep", "add", "--name", huge], ["rep", "add", "--name=" + huge]] {
            let failure = try #require(parseFailure(arguments))
            #expect(failure.exitCode == 2)
            #expect(failure.message.hasPrefix("argument 'name' is longer than 64 KiB"))
            #expect(failure.message.utf8.count < 200, "the message does not repeat the argument")
        }
        // Just below the limit it is sent (the daemon judges it).
        let large = String(repeating: "x", count: ArgumentWords.maxValueBytes)
        #expect(try request(["rep.add", "name=" + large]).args["name"] == .string(large))
    }

    @Test func bidiAndZeroWidthCharactersAreSentForTheDaemonToJudge() throws {
        // Not control characters: refs refuse them in the daemon (invalid_argument), names keep them.
        #expect(try request(["rep.add", "name=\u{202E}evil\u{200B}"]).args["name"] == "\u{202E}evil\u{200B}")
    }

    @Test func usageErrorsPrintHostileInputEscaped() throws {
        let failure = try #require(parseFailure(["rep", "add", "--b\u{1B}[2Jogus"]))
        let shown = TerminalText.escapedLines(failure.message)
        #expect(!shown.unicodeScalars.contains("\u{1B}"))
        #expect(shown.contains("\\x1b[2J"))
    }
}
