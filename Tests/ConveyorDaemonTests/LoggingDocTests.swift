import Foundation
import Testing

/// `docs/logging.md` is the one list of what the daemon logs: every message
/// at warning or worse and every metadata key in `Sources` must be there.
@Suite struct LoggingDocTests {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func sources() throws -> String {
        let directory = Self.root.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(atPath: directory.path)).compactMap { $0 as? String }
        return try files.filter { $0.hasSuffix(".swift") }.map {
            try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8)
        }.joined(separator: "\n")
    }

    private func matches(_ pattern: String, in text: String) throws -> Set<String> {
        let expression = try NSRegularExpression(pattern: pattern)
        return Set(expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        })
    }

    @Test func everyWarningAndMetadataKeyIsDocumented() throws {
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/logging.md"), encoding: .utf8)
        let code = try sources()
        let messages = try matches(#"logger\.(?:warning|error|critical)\(\s*"([^"]+)""#, in: code)
        #expect(messages.count >= 10, "the pattern finds the daemon's warnings: \(messages)")
        for message in messages.sorted() {
            #expect(doc.contains("`\(message)`"), "docs/logging.md lists \(message)")
        }
        // Log metadata is the only dictionary of interpolated strings in Sources (results are JSONValues).
        let keys = try matches(#""([a-z_]+)": "\\\("#, in: code).union(try matches(#"metadataKey: "([a-z_]+)""#, in: code))
        #expect(keys.isSuperset(of: ["error", "worker", "lane", "path"]), "the patterns find the keys: \(keys)")
        for key in keys.sorted() {
            #expect(doc.contains("`\(key)`"), "docs/logging.md lists the key \(key)")
        }
    }
}
