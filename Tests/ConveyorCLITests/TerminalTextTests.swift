@testable import ConveyorCLI
import Testing

/// Data from the daemon cannot drive the terminal: controls, ANSI escapes, bidi and
/// zero-width characters show as escapes.
@Suite struct TerminalTextTests {
    @Test(arguments: [
        ("plain ivan", "plain ivan"),
        ("\u{1B}[2J\u{1B}[31mred", "\\x1b[2J\\x1b[31mred"),
        ("over\rwrite", "over\\rwrite"),
        ("two\nlines\ttab", "two\\nlines\\ttab"),
        ("bell\u{7}del\u{7F}", "bell\\x07del\\x7f"),
        ("c1\u{9B}2J", "c1\\u{9B}2J"),
        ("\u{202E}gnp.exe", "\\u{202E}gnp.exe"),
        ("zero\u{200B}width\u{FEFF}", "zero\\u{200B}width\\u{FEFF}"),
        ("isolate\u{2066}x\u{2069}", "isolate\\u{2066}x\\u{2069}"),
        ("line\u{2028}sep", "line\\u{2028}sep"),
        ("tag\u{E0041}", "tag\\u{E0041}"),
        // Joiners are part of emoji and scripts, not a way to hide text.
        ("👩\u{200D}💻 Müller 李", "👩\u{200D}💻 Müller 李"),
    ])
    func escapes(raw: String, shown: String) {
        #expect(TerminalText.escaped(raw) == shown)
    }

    @Test func escapedLinesKeepsLineFeedsOnly() {
        #expect(TerminalText.escapedLines("a\u{1B}b\nc\rd\n") == "a\\x1bb\nc\\rd\n")
    }

    @Test func widthsCountTerminalColumns() {
        #expect(DisplayWidth.of("ivan") == 4)
        #expect(DisplayWidth.of("李明") == 4)
        #expect(DisplayWidth.of("👩\u{200D}💻") == 2)
        #expect(DisplayWidth.of("e\u{301}") == 1)
        #expect(DisplayWidth.truncated("李明李明", to: 5) == "李明…")
        #expect(DisplayWidth.truncated("customs", to: 5) == "cust…")
        #expect(DisplayWidth.truncated("rail", to: 5) == "rail")
    }

    @Test func colourOnlyOnATerminalAndNeverWithNoColor() {
        #expect(Display.wantsColor(terminal: true, environment: [:]))
        #expect(Display.wantsColor(terminal: true, environment: ["NO_COLOR": ""]))
        #expect(!Display.wantsColor(terminal: true, environment: ["NO_COLOR": "1"]))
        #expect(!Display.wantsColor(terminal: false, environment: [:]))
        let display = Display(now: fixedNow, width: nil, color: true)
        #expect(display.paint("dead", .red) == "\u{1B}[31mdead\u{1B}[0m")
        #expect(plainDisplay().paint("dead", .red) == "dead")
    }
}
