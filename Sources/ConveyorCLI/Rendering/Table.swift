/// Rows under a header, in aligned columns two spaces apart, fitted to the terminal: when
/// the rows are wider than it, the widest columns give way first (down to 4 columns
/// each) and cut cells end in `…`. Without a width nothing is cut.
struct Table: Sendable {
    static let minimumColumnWidth = 4

    var columns: [String]
    var rows: [[Cell]]

    func rendered(_ display: Display) -> String {
        guard !rows.isEmpty else { return "(none)\n" }
        let header = columns.map { Cell(TerminalText.escaped($0), .bold) }
        let lines = [header] + rows
        let widths = fitted(columns.indices.map { column in lines.map { DisplayWidth.of($0[column].text) }.max() ?? 0 }, display.width)
        return lines.map { line in
            line.indices.map { column in
                let text = DisplayWidth.truncated(line[column].text, to: widths[column])
                let painted = display.paint(text, line[column].tint)
                guard column < line.count - 1 else { return painted }
                return painted + String(repeating: " ", count: max(0, widths[column] - DisplayWidth.of(text)))
            }.joined(separator: "  ") + "\n"
        }.joined()
    }

    /// `natural` narrowed, widest first, until the line fits `width` or no column can give.
    private func fitted(_ natural: [Int], _ width: Int?) -> [Int] {
        guard let width else { return natural }
        var widths = natural
        var total = widths.reduce(0, +) + 2 * (widths.count - 1)
        while total > width, let widest = widths.indices.max(by: { widths[$0] < widths[$1] }),
            widths[widest] > Self.minimumColumnWidth
        {
            widths[widest] -= 1
            total -= 1
        }
        return widths
    }
}

/// `key  value` lines, the values aligned; on a terminal a value is cut to fit the line.
struct FieldList: Sendable {
    var fields: [(key: String, value: Cell)]

    func rendered(_ display: Display) -> String {
        let keys = fields.map { TerminalText.escaped($0.key) }
        let keyWidth = keys.map(DisplayWidth.of).max() ?? 0
        let valueWidth = display.width.map { max(10, $0 - keyWidth - 2) }
        return zip(keys, fields).map { key, field in
            let text = valueWidth.map { DisplayWidth.truncated(field.value.text, to: $0) } ?? field.value.text
            return display.paint(DisplayWidth.padded(key, to: keyWidth), .bold) + "  " + display.paint(text, field.value.tint) + "\n"
        }.joined()
    }
}
