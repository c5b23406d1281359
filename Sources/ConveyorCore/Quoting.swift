/// Quoting of untrusted text for messages and JSON: the one escaper that
/// error messages, the config reader, the store and the protocol's JSON
/// writer share, so a name quoted anywhere reads the same everywhere.
public enum Quoting {
    /// `text` as a JSON string literal cut to `maxCharacters` characters
    /// (then ending in `…`), for quoting input in a one-line message.
    public static func excerpt(_ text: String, maxCharacters: Int = 40) -> String {
        let head = text.prefix(maxCharacters)
        var literal = ""
        appendJSONString(String(head), to: &literal)
        return head.endIndex < text.endIndex ? literal + "…" : literal
    }

    /// Appends `string` as a JSON string literal: quotes, backslashes and
    /// control, C1 and line-separator characters escaped, so it stays on one line.
    public static func appendJSONString(_ string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            case "\u{00}"..."\u{1F}", "\u{7F}"..."\u{9F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
