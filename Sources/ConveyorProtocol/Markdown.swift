/// Tiny Markdown writers for the reference sections that `docs/` generates from the code
/// (``CommandCatalog/markdownReference(_:)``, ``ErrorCode/markdownReference``, the daemon's
/// config keys), so every generated table is spelled the same way.
public enum Markdown {
    /// A table: a header row, the separator row, one row per entry; each line ends in `\n`.
    /// Cells are escaped with ``cell(_:)``.
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        let lines = [header, header.map { _ in "---" }] + rows
        return lines.map { "| " + $0.map(cell).joined(separator: " | ") + " |\n" }.joined()
    }

    /// `text` as inline code.
    public static func code(_ text: String) -> String {
        "`" + text + "`"
    }

    /// `text` made safe inside a table cell: `|` escaped, line breaks become spaces.
    public static func cell(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character.isNewline {
                escaped.append(" ")
            } else {
                if character == "|" { escaped.append("\\") }
                escaped.append(character)
            }
        }
        return escaped
    }
}
