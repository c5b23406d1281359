import ConveyorConfig
import Foundation
import FuzzSupport

/// The config file's reader on any file: `DaemonConfig.parse(_:path:)` and the whole
/// `DaemonConfig.loadWithSources(path:environment:)` either return values or throw a
/// `ConfigError` that names the file and a line of it, never trap; every value loaded names its
/// line as its source.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    let text = String(decoding: input, as: UTF8.self)
    let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count
    do {
        let entries = try DaemonConfig.parse(text, path: "fuzz.conf")
        expect(entries.map(\.0) == entries.map(\.0).sorted() && entries.allSatisfy { (1...lines).contains($0.0) },
               "line numbers \(entries.map(\.0)) out of order or beyond the \(lines) lines")
    } catch {
        expectNamesALine(error, path: "fuzz.conf", lines: lines)
    }
    do {
        try Data(input).write(to: URL(fileURLWithPath: file))
    } catch {
        fatalError("cannot write \(file): \(error)")
    }
    do {
        let (config, sources) = try DaemonConfig.loadWithSources(path: file, environment: [:])
        for (key, source) in sources {
            expect(line(in: source, path: file).map { (1...lines).contains($0) } == true, "\(key)'s source is \(source)")
        }
        _ = config.listing(sources: sources) + config.description
    } catch {
        if String(validating: input, as: UTF8.self) == nil {
            let message = "\(error)"
            let prefix = "cannot read config file \(file): line "
            let line = message.hasPrefix(prefix) ? Int(message.dropFirst(prefix.count).prefix { $0 != " " }) : nil
            expect(line.map { (1...lines).contains($0) } == true && message.hasSuffix(" is not UTF-8"), "not UTF-8: \(message)")
        } else {
            expectNamesALine(error, path: file, lines: lines)
        }
    }
    return 0
}

/// Where the whole load reads its file from: one file for the process, rewritten each run.
let file = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-fuzz-\(getpid()).conf").path

/// Checks that `error` is a `ConfigError` starting `path:N: ` with N one of the file's lines.
func expectNamesALine(_ error: any Error, path: String, lines: Int) {
    expect(error is ConfigError, "not a ConfigError: \(error)")
    let message = "\(error)"
    expect(line(in: message, path: path).map { (1...lines).contains($0) } == true, "does not name a line of \(path): \(message)")
    expect(!message.contains("\n"), "more than one line: \(message)")
}

/// N in `text` starting `path:N` (followed by `:` or nothing).
func line(in text: String, path: String) -> Int? {
    guard text.hasPrefix(path + ":") else { return nil }
    return Int(text.dropFirst(path.count + 1).prefix { $0 != ":" })
}

exit(runFuzzer(testOneInput))
