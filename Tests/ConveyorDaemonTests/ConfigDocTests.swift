import Foundation
import GeneratedDocs
import Testing

@testable import ConveyorDaemon

/// `docs/config.md`'s key table is rendered from `DaemonConfig.table`; this fails when the doc
/// differs (`scripts/update-docs` rewrites it), and when `Config/conveyor.conf` or the
/// README's table disagrees with the keys.
@Suite struct ConfigDocTests {
    @Test func generatedKeyTableOfTheConfigDocMatchesTheCode() throws {
        let differences = try GeneratedDocument("docs/config.md").differences(from: ["keys": DaemonConfig.markdownReference])
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
    }

    @Test func keyTableHasOneRowPerKey() throws {
        let lines = DaemonConfig.markdownReference.split(separator: "\n")
        #expect(lines.count == 2 + DaemonConfig.table.count)
        #expect(lines.contains("""
            | `workers` | `CONVEYOR_WORKERS` | worker connections for handoffs and other short jobs (one more runs scans and webhook deliveries) | \
            an integer from 1 to 64 | `2` | needs a restart |
            """))
        #expect(lines.contains { $0.hasPrefix("| `log_level` |") && $0.hasSuffix("| `info` | applies at once |") })
        #expect(lines.contains { $0.hasPrefix("| `poll_interval` |") && $0.hasSuffix("| `10` | needs a restart |") })
        #expect(lines.contains { $0.hasPrefix("| `database_url` |") && $0.contains("libpq's own `PG*` variables") })
    }

    /// The example sets or shows (commented out) every key, validates, and holds the
    /// defaults except for the database it points at.
    @Test func theExampleConfigAgreesWithTheKeys() throws {
        let path = GeneratedDocument("Config/conveyor.conf").url.path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let example = try DaemonConfig.load(path: path, environment: [:])
        for key in DaemonConfig.table {
            let mentioned = text.split(whereSeparator: \.isNewline).contains { line in
                let words = line.split(separator: " ")
                return words.first == Substring(key.name) || (words.first == "#" && words.dropFirst().first == Substring(key.name))
            }
            #expect(mentioned, "Config/conveyor.conf shows \(key.name)")
            if key.name != "database_url" {
                #expect(example.value(of: key.name) == DaemonConfig().value(of: key.name), "\(key.name) is its default")
            }
        }
    }

    /// The README names every key, its table only real ones, and it sends readers to `docs/config.md`.
    @Test func theReadmesTableNamesRealKeys() throws {
        let readme = try String(contentsOf: GeneratedDocument("README.md").url, encoding: .utf8)
        let linksTheDoc = readme.contains("docs/config.md")
        #expect(linksTheDoc, "the README links docs/config.md")
        let variables = Set(DaemonConfig.table.map(\.environmentVariable))
        for key in DaemonConfig.table {
            let named = readme.contains("`\(key.environmentVariable)`") || readme.contains("`\(key.name)`")
            #expect(named, "the README names \(key.name)")
        }
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| `CONVEYOR_") }
        #expect(!rows.isEmpty)
        for row in rows {
            let name = row.dropFirst(3).prefix { $0 != "`" }
            #expect(variables.contains(String(name)), "README row \(row)")
        }
    }
}
