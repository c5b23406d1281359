import ConveyorPostgres
import ConveyorStore
import Foundation
import Testing

/// `SQL/schema.sql` is the schema the numbered migrations build, in one file:
/// a fresh database is migrated, dumped with pg_dump and compared with it,
/// both normalized. `CONVEYOR_UPDATE_SCHEMA_SNAPSHOT=1` rewrites the file
/// instead of failing (`scripts/schema-snapshot`).
@Suite struct SchemaSnapshotTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let snapshotPath = packageRoot.appendingPathComponent("SQL/schema.sql").path
    static let updateVariable = "CONVEYOR_UPDATE_SCHEMA_SNAPSHOT"

    /// The file's own comment lines (normalizing drops them again).
    static let header = """
        -- SQL/schema.sql: schema conveyor as the numbered migrations (SQL/NNN_*.sql) build
        -- it, in one file. Generated; not a migration (conveyord never applies it) and never
        -- edited by hand: scripts/schema-snapshot rewrites it, and SchemaSnapshotTests fails
        -- when it differs from a freshly migrated database. It is the output of
        -- `pg_dump --schema-only --schema=conveyor --no-owner --no-privileges` (PostgreSQL 15)
        -- without comment lines, SET lines, \\restrict lines and repeated blank lines.
        """

    /// One line that counts, with its line number in the text it came from.
    struct Line: Equatable {
        let number: Int
        let text: String
    }

    /// What stays of a dump (or of the snapshot file) once everything that
    /// varies between dumps of one schema is gone: `--` comment lines, the
    /// session's `SET` and `set_config` lines, `\restrict`/`\unrestrict` (a
    /// random key per dump since pg_dump 15.14), blank lines at either end,
    /// and all but one of a run of blank lines. Only lines that start with
    /// these go: function bodies and their indented `SET search_path` stay.
    static func normalized(_ text: String) -> [Line] {
        let dropped = ["--", "SET ", "SELECT pg_catalog.set_config(", "\\restrict", "\\unrestrict"]
        var lines: [Line] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if dropped.contains(where: { line.hasPrefix($0) }) { continue }
            if line.isEmpty && (lines.last?.text.isEmpty ?? true) { continue }
            lines.append(Line(number: index + 1, text: String(line)))
        }
        if lines.last?.text.isEmpty == true { lines.removeLast() }
        return lines
    }

    /// The snapshot file's text for a normalized dump.
    static func snapshotText(_ lines: [Line]) -> String {
        header + "\n\n" + lines.map(\.text).joined(separator: "\n") + "\n"
    }

    /// pg_dump of `conninfo`'s schema `conveyor`, by the test server's own pg_dump.
    static func dump(_ conninfo: String) throws -> String {
        let pgDump = try TestPostgres.running().binaries + "/pg_dump"
        let result = try Spawn.run(
            [pgDump, "--schema-only", "--schema=conveyor", "--no-owner", "--no-privileges", "--dbname=" + conninfo],
            timeout: .seconds(120))
        guard result.status == 0 else { throw TestSetupError("pg_dump failed (\(result.status)): \(result.stderr)") }
        return result.stdout
    }

    /// Where the snapshot and the migrated schema differ, readably (nil: they do not).
    static func differences(snapshot: [Line], migrated: [Line]) -> String? {
        let first = zip(snapshot, migrated).enumerated().first { $0.element.0.text != $0.element.1.text }?.offset
            ?? min(snapshot.count, migrated.count)
        guard first < max(snapshot.count, migrated.count) else { return nil }
        let fileLine = first < snapshot.count ? snapshot[first].number : (snapshot.last?.number ?? 0) + 1
        func excerpt(_ lines: [Line], numbered: Bool) -> String {
            let shown = lines.dropFirst(first).prefix(6)
            guard !shown.isEmpty else { return "    (end of file)" }
            return shown.map { numbered ? "    \($0.number): \($0.text)" : "    \($0.text)" }.joined(separator: "\n")
        }
        /// The lines of `lines` that `other` lacks (as many times as they are missing), in order.
        func lacking(_ lines: [Line], in other: [Line]) -> [String] {
            var available = Dictionary(other.map { ($0.text, 1) }, uniquingKeysWith: +)
            return lines.compactMap { line in
                if let count = available[line.text], count > 0 {
                    available[line.text] = count - 1
                    return nil
                }
                return line.text
            }
        }
        func listed(_ texts: [String], _ mark: String) -> String {
            texts.isEmpty ? "    (none)" : texts.prefix(12).map { "    \(mark) \($0)" }.joined(separator: "\n")
                + (texts.count > 12 ? "\n    … \(texts.count - 12) more" : "")
        }
        func lines(_ count: Int) -> String { count == 1 ? "1 line" : "\(count) lines" }
        let added = lacking(migrated, in: snapshot).filter { !$0.isEmpty }
        let removed = lacking(snapshot, in: migrated).filter { !$0.isEmpty }
        return """
            SQL/schema.sql does not match the schema the migrations build; first difference at its line \(fileLine).
              SQL/schema.sql from there:
            \(excerpt(snapshot, numbered: true))
              pg_dump of a freshly migrated database from there:
            \(excerpt(migrated, numbered: false))
              Only in the migrated schema (\(lines(added.count))):
            \(listed(added, "+"))
              Only in SQL/schema.sql (\(lines(removed.count))):
            \(listed(removed, "-"))
            If the migrations are right, regenerate the snapshot and commit it with them: scripts/schema-snapshot \
            (\(updateVariable)=1 swift test --skip-build --filter SchemaSnapshot). Never edit an applied migration: \
            a schema change is a new numbered file.
            """
    }

    @Test func snapshotIsTheMigratedSchema() throws {
        let conninfo = try TestPostgres.makeEmptyDatabase()
        try Migrator().migrate(try TestPostgres.connect(conninfo))
        let migrated = Self.normalized(try Self.dump(conninfo))
        #expect(migrated.first?.text == "CREATE SCHEMA conveyor;", "the dump starts with the schema")

        let existing = try? String(contentsOfFile: Self.snapshotPath, encoding: .utf8)
        let snapshot = Self.normalized(existing ?? "")
        guard let difference = Self.differences(snapshot: snapshot, migrated: migrated) else { return }
        if ProcessInfo.processInfo.environment[Self.updateVariable] == "1" {
            try Data(Self.snapshotText(migrated).utf8).write(to: URL(fileURLWithPath: Self.snapshotPath), options: .atomic)
            print("SchemaSnapshotTests: rewrote \(Self.snapshotPath)")
            return
        }
        Issue.record("\(existing == nil ? "SQL/schema.sql is missing.\n" : "")\(difference)")
    }

    @Test func normalizingDropsWhatVariesBetweenDumps() {
        let dump = """
            --
            -- PostgreSQL database dump
            --

            \\restrict 9f3kQ

            SET statement_timeout = 0;
            SELECT pg_catalog.set_config('search_path', '', false);


            CREATE SCHEMA conveyor;

            CREATE FUNCTION conveyor.f() RETURNS trigger
                LANGUAGE plpgsql
                SET search_path TO 'pg_catalog', 'pg_temp'
                AS $$
            begin
                -- a comment in a body stays

                return null;
            end
            $$;

            \\unrestrict 9f3kQ

            """
        #expect(Self.normalized(dump).map(\.text) == [
            "CREATE SCHEMA conveyor;", "",
            "CREATE FUNCTION conveyor.f() RETURNS trigger", "    LANGUAGE plpgsql",
            "    SET search_path TO 'pg_catalog', 'pg_temp'", "    AS $$", "begin", "    -- a comment in a body stays", "",
            "    return null;", "end", "$$;",
        ])
        #expect(Self.normalized(dump).first?.number == 11)
        // The snapshot's header is dropped the same way.
        #expect(Self.normalized(Self.snapshotText(Self.normalized(dump))).map(\.text) == Self.normalized(dump).map(\.text))
        #expect(Self.differences(snapshot: Self.normalized(dump), migrated: Self.normalized(dump)) == nil)
    }
}
