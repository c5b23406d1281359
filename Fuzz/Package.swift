// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for conveyor's input parsers: built and run by `scripts/fuzz` with
// `-sanitize=fuzzer,address`, never by the main package's `swift build` (docs/fuzzing.md).
let package = Package(
    name: "conveyor-fuzz",
    dependencies: [.package(name: "conveyor", path: "..")],
    targets: [
        // libFuzzer's driver, from the toolchain's runtime.
        .systemLibrary(name: "CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"]),
        // The admin protocol's request line (JSON and words form).
        .executableTarget(
            name: "FuzzRequest", dependencies: ["FuzzSupport", .product(name: "ConveyorProtocol", package: "conveyor")]),
        // The words form's tokenizer, also conveyorctl's prompt's.
        .executableTarget(
            name: "FuzzWords", dependencies: ["FuzzSupport", .product(name: "ConveyorProtocol", package: "conveyor")]),
        // The config file: its reader and the whole load.
        .executableTarget(
            name: "FuzzConfig", dependencies: ["FuzzSupport", .product(name: "ConveyorConfig", package: "conveyor")]),
    ],
    swiftLanguageModes: [.v6]
)
