import ConveyorProtocol
import GeneratedDocs
import Testing

/// `docs/protocol.md`'s command and error-code tables are rendered from `CommandCatalog.all`
/// and `ErrorCode`; this fails when the doc differs, and `scripts/update-docs` rewrites it.
@Suite struct ProtocolDocTests {
    @Test func generatedSectionsOfTheProtocolDocMatchTheCode() throws {
        let differences = try GeneratedDocument("docs/protocol.md").differences(from: [
            "commands": CommandCatalog.markdownReference(),
            "error-codes": ErrorCode.markdownReference,
        ])
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
    }

    @Test func commandTableHasOneRowPerCommandWithRoleAndArguments() throws {
        let lines = CommandCatalog.markdownReference().split(separator: "\n")
        #expect(lines.count == 2 + CommandCatalog.all.count)
        #expect(lines[0] == "| command | minimum role | arguments | summary |")
        let away = try #require(lines.first { $0.hasPrefix("| `rep.away` |") })
        #expect(away == """
            | `rep.away` | operator | `team` (required): team name<br>`ref` (required): the rep's reference<br>\
            `until`: ISO 8601 end of the absence | mark a rep absent: no handoffs until back |
            """)
        #expect(lines.contains { $0.hasPrefix("| `ping` | viewer | none | ") })
        #expect(lines.contains { $0.hasPrefix("| `watch` (streams) | viewer |") })
        let subset = CommandCatalog.markdownReference([try #require(CommandCatalog.spec(named: "drain"))])
        #expect(subset.split(separator: "\n").count == 3)
    }

    @Test func errorCodeTableGivesEveryCodeItsMeaningAndExitCode() {
        let lines = ErrorCode.markdownReference.split(separator: "\n")
        #expect(lines.count == 2 + ErrorCode.allCases.count)
        for code in ErrorCode.allCases {
            #expect(!code.summary.isEmpty)
            #expect(lines.contains { $0.hasPrefix("| `\(code.rawValue)` |") && $0.hasSuffix(" | \(code.exitCode) |") }, "\(code)")
        }
    }

    @Test func markdownCellsStayInTheirCell() {
        #expect(Markdown.cell("a | b\nc\r\nd") == "a \\| b c d")
        #expect(Markdown.table(["x", "y"], [["1", "|"]]) == "| x | y |\n| --- | --- |\n| 1 | \\| |\n")
    }
}
