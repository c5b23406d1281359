/// Reads a line at a prompt from raw key bytes, with what a prompt is expected to do:
/// left/right, Home/End (also Ctrl-A/Ctrl-E), Backspace/Delete, Ctrl-U (erase to the
/// start), up/down through earlier lines, Tab to complete the word before the cursor from
/// `completions` (given the words before it), Ctrl-C to drop the line, Ctrl-D on an empty
/// line to end.
///
/// Pasted text that is not printable is shown escaped (``TerminalText``).
final class LineEditor {
    /// The lines entered so far, oldest first (blank lines and repeats left out).
    private(set) var history: [String] = []
    /// The words that may follow the given ones.
    private let completions: ([String]) -> [String]
    private let input: () -> UInt8?
    private let output: (String) -> Void

    init(
        completions: @escaping ([String]) -> [String], input: @escaping () -> UInt8?,
        output: @escaping (String) -> Void
    ) {
        self.completions = completions
        self.input = input
        self.output = output
    }

    /// The next line; `nil` at the end of input.
    func readLine(prompt: String) -> String? {
        var state = State(history: history)
        output(prompt)
        while let byte = input() {
            switch byte {
            case 0x0D, 0x0A:
                output("\r\n")
                let line = String(String.UnicodeScalarView(state.line))
                if !line.allSatisfy(\.isWhitespace), history.last != line { history.append(line) }
                return line
            case 0x04 where state.line.isEmpty:
                output("\r\n")
                return nil
            case 0x04:
                state.deleteForward()
            case 0x03:
                output("^C\r\n")
                state = State(history: history)
            case 0x7F, 0x08:
                state.deleteBackward()
            case 0x01:
                state.cursor = 0
            case 0x05:
                state.cursor = state.line.count
            case 0x15:
                state.line.removeSubrange(0..<state.cursor)
                state.cursor = 0
            case 0x09:
                complete(&state, prompt: prompt)
            case 0x1B:
                escapeSequence(&state)
            case 0x20...0x7E:
                state.insert(Unicode.Scalar(byte))
            case 0xC0...0xF7:
                if let scalar = scalar(startingWith: byte) { state.insert(scalar) }
            default:
                continue
            }
            redraw(state, prompt: prompt)
        }
        return nil
    }

    /// The line being edited.
    private struct State {
        var line: [Unicode.Scalar] = []
        var cursor = 0
        /// The earlier lines and which one is shown (`history.count`: the new line).
        let history: [String]
        var recalled: Int
        var draft: [Unicode.Scalar] = []

        init(history: [String]) {
            self.history = history
            recalled = history.count
        }

        mutating func insert(_ scalar: Unicode.Scalar) {
            line.insert(scalar, at: cursor)
            cursor += 1
        }

        mutating func deleteBackward() {
            guard cursor > 0 else { return }
            line.remove(at: cursor - 1)
            cursor -= 1
        }

        mutating func deleteForward() {
            guard cursor < line.count else { return }
            line.remove(at: cursor)
        }

        /// Shows the line `by` steps back (negative) or forward in the history.
        mutating func recall(_ by: Int) {
            let target = recalled + by
            guard (0...history.count).contains(target) else { return }
            if recalled == history.count { draft = line }
            recalled = target
            line = target == history.count ? draft : Array(history[target].unicodeScalars)
            cursor = line.count
        }
    }

    /// `ESC [ A`…: the arrows, Home, End and Delete.
    private func escapeSequence(_ state: inout State) {
        guard input() == UInt8(ascii: "[") else { return }
        switch input() {
        case UInt8(ascii: "A"): state.recall(-1)
        case UInt8(ascii: "B"): state.recall(1)
        case UInt8(ascii: "C"): state.cursor = min(state.line.count, state.cursor + 1)
        case UInt8(ascii: "D"): state.cursor = max(0, state.cursor - 1)
        case UInt8(ascii: "H"): state.cursor = 0
        case UInt8(ascii: "F"): state.cursor = state.line.count
        case UInt8(ascii: "3"):
            if input() == UInt8(ascii: "~") { state.deleteForward() }
        default: break
        }
    }

    /// Completes the word before the cursor: the one candidate, or as far as all candidates
    /// agree; when they agree no further, lists them.
    private func complete(_ state: inout State, prompt: String) {
        let before = String(String.UnicodeScalarView(state.line[..<state.cursor]))
        let typed = String(before.split(separator: " ", omittingEmptySubsequences: false).last ?? "")
        let words = before.dropLast(typed.count).split(separator: " ").map(String.init)
        let candidates = completions(words).filter { $0.hasPrefix(typed) }.sorted()
        guard let first = candidates.first else { return }
        let common = candidates.dropFirst().reduce(first) { String($0.commonPrefix(with: $1)) }
        let addition = candidates.count == 1 ? String(first.dropFirst(typed.count)) + " " : String(common.dropFirst(typed.count))
        if addition.isEmpty {
            output("\r\n" + candidates.joined(separator: "  ") + "\r\n")
        }
        for scalar in addition.unicodeScalars { state.insert(scalar) }
    }

    /// The rest of a UTF-8 sequence that starts with `lead`, decoded.
    private func scalar(startingWith lead: UInt8) -> Unicode.Scalar? {
        let count = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1
        var bytes = [lead]
        for _ in 0..<count {
            guard let next = input(), next & 0xC0 == 0x80 else { return nil }
            bytes.append(next)
        }
        return String(validating: bytes, as: UTF8.self)?.unicodeScalars.first
    }

    private func redraw(_ state: State, prompt: String) {
        let shown = TerminalText.escaped(String(String.UnicodeScalarView(state.line)))
        let tail = TerminalText.escaped(String(String.UnicodeScalarView(state.line[state.cursor...])))
        let back = DisplayWidth.of(tail)
        output("\r" + prompt + shown + "\u{1B}[K" + (back > 0 ? "\u{1B}[\(back)D" : ""))
    }
}
