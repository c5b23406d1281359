import Foundation

/// A file of the repository (under `docs/`) with sections that the code renders, each
/// between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED -->` lines. The tests
/// compare them with the render; `scripts/update-docs` (which sets
/// `CONVEYOR_UPDATE_DOCS=1`) rewrites them instead.
public struct GeneratedDocument {
    /// The file, located from the calling test's `#filePath` (the repository root is the
    /// nearest directory above it holding `Package.swift`).
    public let url: URL
    private let relativePath: String

    public init(_ relativePath: String, filePath: String = #filePath) {
        var root = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while root.path != "/", !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) {
            root.deleteLastPathComponent()
        }
        self.relativePath = relativePath
        url = root.appendingPathComponent(relativePath)
    }

    /// One line per section that differs from its render (empty when the file is current).
    /// With `CONVEYOR_UPDATE_DOCS=1` in the environment the sections are rewritten first,
    /// so nothing differs.
    ///
    /// - Throws: when the file cannot be read or written, or a section's markers are missing.
    public func differences(
        from sections: KeyValuePairs<String, String>,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> [String] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var updated = text
        var differences: [String] = []
        for (name, render) in sections {
            let range = try Self.body(of: name, in: updated, file: relativePath)
            let current = String(updated[range])
            if current != render {
                differences.append("\(relativePath): section \(name) is out of date (\(Self.firstDifference(current, render)))")
                updated.replaceSubrange(range, with: render)
            }
        }
        guard environment["CONVEYOR_UPDATE_DOCS"] == "1" else { return differences }
        if updated != text { try updated.write(to: url, atomically: true, encoding: .utf8) }
        return []
    }

    struct MissingMarker: Error, CustomStringConvertible {
        let description: String
    }

    /// The text between a section's markers: from the line after the begin marker to the
    /// start of the end marker's line.
    private static func body(of name: String, in text: String, file: String) throws -> Range<String.Index> {
        let begin = "<!-- BEGIN GENERATED: \(name) -->\n"
        let end = "<!-- END GENERATED -->"
        guard let start = text.range(of: begin)?.upperBound else {
            throw MissingMarker(description: "\(file) has no line \(begin.dropLast())")
        }
        if text[start...].hasPrefix(end) { return start..<start }
        guard let stop = text.range(of: "\n" + end, range: start..<text.endIndex)?.lowerBound else {
            throw MissingMarker(description: "\(file): section \(name) has no line \(end) after it")
        }
        return start..<text.index(after: stop)
    }

    /// `line N: file has …, code renders …` for the first line that differs.
    private static func firstDifference(_ file: String, _ render: String) -> String {
        let fileLines = file.split(separator: "\n", omittingEmptySubsequences: false)
        let renderLines = render.split(separator: "\n", omittingEmptySubsequences: false)
        let index = zip(fileLines, renderLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(fileLines.count, renderLines.count)
        func line(_ lines: [Substring]) -> String { index < lines.count ? String(lines[index]).debugDescription : "nothing" }
        return "line \(index + 1) of the section: the file has \(line(fileLines)), the code renders \(line(renderLines)); "
            + "run scripts/update-docs"
    }
}
