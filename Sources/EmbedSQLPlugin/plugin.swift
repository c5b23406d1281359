import Foundation
import PackagePlugin

/// Embeds the package's SQL into the target at build time: numbered
/// migrations from `SQL/*.sql` and named queries from `SQL/queries/*.sql`.
/// An installed `conveyord` thus finds its SQL from any working directory,
/// and every named query is a compile-time constant.
@main
struct EmbedSQLPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL.appending(path: "SQL")
        let migrations = try sqlFiles(in: root)
        let queries = try sqlFiles(in: root.appending(path: "queries"))
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSQL.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(migrations.count) migrations and \(queries.count) query files",
                executable: try context.tool(named: "embed-sql").url,
                arguments: [output.path, "--migrations"] + migrations.map(\.path) + ["--queries"] + queries.map(\.path),
                inputFiles: migrations + queries,
                outputFiles: [output]
            )
        ]
    }

    private func sqlFiles(in directory: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default
            .contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}
