@testable import ConveyorCLI
import Testing

/// The prompt's line editing, driven by key bytes.
@Suite struct LineEditorTests {
    /// An editor reading `keys` (then end of input), and what it wrote.
    final class Keyboard {
        var keys: [UInt8] = []
        var written = ""
        lazy var editor = LineEditor(
            completions: { words in
                switch words {
                case []: ["rep", "rep.add", "rep.list", "status", "history"]
                case ["rep"]: ["list", "add"]
                default: []
                }
            },
            input: { [unowned self] in self.keys.isEmpty ? nil : self.keys.removeFirst() },
            output: { [unowned self] in self.written += $0 })

        func type(_ text: String) { keys += Array(text.utf8) }
        func line() -> String? { editor.readLine(prompt: "conveyor> ") }
    }

    static let up = "\u{1B}[A", down = "\u{1B}[B", left = "\u{1B}[D", right = "\u{1B}[C"

    @Test func typingEditingAndEnter() {
        let keyboard = Keyboard()
        keyboard.type("statsu\u{7F}\u{7F}us\r")
        #expect(keyboard.line() == "status")
        keyboard.type("ping\(Self.left)\(Self.left)X\u{1}>\u{5}!\r")
        #expect(keyboard.line() == ">piXng!")
        keyboard.type("rep.add team=rail\u{15}ping\r")
        #expect(keyboard.line() == "ping")
        keyboard.type("abc\u{1}\u{1B}[3~\r")
        #expect(keyboard.line() == "bc")
    }

    @Test func upAndDownRecallEarlierLines() {
        let keyboard = Keyboard()
        keyboard.type("status\rping\rping\r   \r")
        for _ in 0..<4 { _ = keyboard.line() }
        #expect(keyboard.editor.history == ["status", "ping"], "repeats and blank lines are not kept")
        keyboard.type("half\(Self.up)\(Self.up)\(Self.up)\r")
        #expect(keyboard.line() == "status")
        keyboard.type("draft\(Self.up)\(Self.down)\r")
        #expect(keyboard.line() == "draft")
    }

    @Test func tabCompletesCommandNames() {
        let keyboard = Keyboard()
        keyboard.type("st\t\r")
        #expect(keyboard.line() == "status ")
        keyboard.type("r\t.l\t\r")
        #expect(keyboard.line() == "rep.list ")
        keyboard.type("rep.\tx\r")
        #expect(keyboard.line() == "rep.x")
        #expect(keyboard.written.contains("rep.add  rep.list"), "no common continuation: the candidates are listed")
        keyboard.type("status s\t\r")
        #expect(keyboard.line() == "status s", "no candidates after status")
    }

    @Test func tabCompletesTheWordAfterAGroup() {
        let keyboard = Keyboard()
        keyboard.type("rep a\t--team rail\r")
        #expect(keyboard.line() == "rep add --team rail")
        keyboard.type("rep  \t\r")
        #expect(keyboard.line() == "rep  ")
        #expect(keyboard.written.contains("add  list"), "the group's words, sorted")
        keyboard.type("rep add --team \t\r")
        #expect(keyboard.line() == "rep add --team ", "command names only")
    }

    @Test func controlKeysAndEndOfInput() {
        let keyboard = Keyboard()
        keyboard.type("rep.add\u{3}ping\r")
        #expect(keyboard.line() == "ping", "Ctrl-C drops the line")
        keyboard.type("\u{4}")
        #expect(keyboard.line() == nil, "Ctrl-D on an empty line ends")
        keyboard.type("unfinished")
        #expect(keyboard.line() == nil)
    }

    @Test func utf8IsReadAndControlsAreShownEscaped() {
        let keyboard = Keyboard()
        keyboard.type("name=Ольга 李\r")
        #expect(keyboard.line() == "name=Ольга 李")
        keyboard.keys += [0x1B, UInt8(ascii: "]")] + Array("x\u{202E}y\r".utf8)
        #expect(keyboard.line() == "x\u{202E}y", "an unknown escape sequence is dropped")
        #expect(keyboard.written.contains("x\\u{202E}y"))
        #expect(!keyboard.written.unicodeScalars.contains("\u{202E}"))
    }
}
