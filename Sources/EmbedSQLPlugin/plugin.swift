import Foundation
import PackagePlugin

/// Embeds the package's SQL into a target at build time. `ConveyorStore`
/// gets the numbered migrations of `SQL/` and the named queries of
/// `SQL/queries/` (enum `Queries`); `conveyor-bench` gets those of
/// `SQL/bench/` (enum `BenchQueries`), `ConveyorFixtures` those of
/// `SQL/fixtures/` (enum `FixtureQueries`). An installed `conveyord` thus finds
/// its SQL from any working directory, and every named query is a
/// compile-time constant.
@main
struct EmbedSQLPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL.appending(path: "SQL")
        let (folder, enumName) = Self.queries[target.name] ?? ("queries", "Queries")
        let queries = root.appending(path: folder)
        let migrations: URL? = Self.queries[target.name] == nil ? root : nil
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSQL.swift")
        // embed-sql reads the folders itself. They are inputs as well as
        // their files: SwiftPM reuses this plan until the package changes, and
        // a folder changes when a file is added or removed, so a new migration
        // is embedded without a clean build. (Edits to a file added since the
        // last plan are seen once `Package.swift` is touched.)
        let folders = [queries] + (migrations.map { [$0] } ?? [])
        return [
            .buildCommand(
                displayName: "Embedding SQL for \(target.name)",
                executable: try context.tool(named: "embed-sql").url,
                arguments: [output.path, enumName, queries.path] + (migrations.map { [$0.path] } ?? []),
                inputFiles: folders + (try folders.flatMap(sqlFiles)),
                outputFiles: [output]
            )
        ]
    }

    /// The targets with a query folder of their own (and no migrations): folder under `SQL/`, enum name.
    private static let queries = ["conveyor-bench": ("bench", "BenchQueries"), "ConveyorFixtures": ("fixtures", "FixtureQueries")]

    private func sqlFiles(in directory: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default
            .contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
    }
}
