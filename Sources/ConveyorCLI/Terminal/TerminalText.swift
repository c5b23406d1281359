/// Text from the daemon made safe to print on a terminal: every character that could move
/// the cursor, change the terminal's state, hide text or reorder it is shown as an escape
/// instead (`\x1b`, `\r`, `\u{202E}`), so that a hostile name cannot repaint the screen or
/// disguise what is around it.
enum TerminalText {
    /// `text` on one line: C0 and C1 controls (also tab and line breaks), DEL, format
    /// characters (bidi controls, zero-width spaces, byte-order marks) and line or paragraph
    /// separators escaped. Zero-width (non-)joiners stay: emoji and several scripts need them.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) {
                result += escape(scalar)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// `text` escaped line by line, its line feeds kept.
    static func escapedLines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { escaped(String($0)) }
            .joined(separator: "\n")
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        case .format: scalar != "\u{200C}" && scalar != "\u{200D}"
        default: false
        }
    }

    private static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\u{00}"..."\u{7F}":
            let hex = String(scalar.value, radix: 16)
            return "\\x" + (hex.count == 1 ? "0" : "") + hex
        default:
            return "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        }
    }
}
