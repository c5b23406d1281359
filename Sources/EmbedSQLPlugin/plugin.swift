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
        let queries = root.appending(path: "queries")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSQL.swift")
        // embed-sql reads the folders itself. They are inputs as well as
        // their files: SwiftPM reuses this plan until the package changes, and
        // a folder changes when a file is added or removed, so a new migration
        // is embedded without a clean build. (Edits to a file added since the
        // last plan are seen once `Package.swift` is touched.)
        return [
            .buildCommand(
                displayName: "Embedding SQL",
                executable: try context.tool(named: "embed-sql").url,
                arguments: [output.path, root.path],
                inputFiles: [root, queries] + (try sqlFiles(in: root)) + (try sqlFiles(in: queries)),
                outputFiles: [output]
            )
        ]
    }

    private func sqlFiles(in directory: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default
            .contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
    }
}
