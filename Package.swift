// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "conveyor",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "conveyord", targets: ["conveyord"]),
        .executable(name: "conveyorctl", targets: ["conveyorctl"]),
        .executable(name: "conveyor-bench", targets: ["conveyor-bench"]),
        // For integrators' receivers written in Swift: checks a digest's Conveyor-Signature.
        .library(name: "ConveyorSignature", targets: ["ConveyorSignature"]),
        // For the fuzz targets in Fuzz/ (their own package, built with libFuzzer by scripts/fuzz).
        .library(name: "ConveyorProtocol", targets: ["ConveyorProtocol"]),
        .library(name: "ConveyorConfig", targets: ["ConveyorConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // The only place C enters: libpq through pkg-config.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Small, safe PostgreSQL layer over libpq.
        .target(name: "ConveyorPostgres", dependencies: ["CLibPQ"]),
        // Pure domain: no I/O, imports nothing of ours.
        .target(name: "ConveyorCore"),
        // All SQL behind named operations; migrations embedded at build time from SQL/.
        .target(
            name: "ConveyorStore",
            dependencies: ["ConveyorPostgres", "ConveyorCore"],
            plugins: ["EmbedSQLPlugin"]
        ),
        // The webhook signature (HMAC-SHA256), signer and verifier: the daemon signs with it,
        // receivers (the tests', integrators') verify with it. Pure, and only Crypto.
        .target(name: "ConveyorSignature", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Admin protocol: request/response types and framing, shared by daemon and CLI.
        .target(name: "ConveyorProtocol", dependencies: ["ConveyorCore"]),
        // The daemon's settings: the config file's reader and every key. Pure (no NIO), so it can be fuzzed.
        .target(
            name: "ConveyorConfig",
            dependencies: ["ConveyorProtocol", "ConveyorCore", .product(name: "Logging", package: "swift-log")]
        ),
        // The daemon library: services, lifecycle (its config from ConveyorConfig, re-exported).
        .target(
            name: "ConveyorDaemon",
            dependencies: [
                "ConveyorStore", "ConveyorProtocol", "ConveyorCore", "ConveyorPostgres", "ConveyorSignature", "ConveyorConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "conveyord",
            dependencies: [
                "ConveyorDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The admin client: command line (swift-argument-parser over the command catalog), socket
        // session and terminal rendering; `conveyorctl` is a thin executable over it.
        .target(
            name: "ConveyorCLI",
            dependencies: [
                "ConveyorProtocol", "ConveyorCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "conveyorctl", dependencies: ["ConveyorCLI"]),
        // A small seeded random generator (SplitMix64): reproducible data for the fixtures and the tests.
        .target(name: "SeededRandom"),
        // A deterministic freight forwarder's year (teams, reps, accounts, deals, interactions) with
        // the ground truth of the attachment scan; loaded set-based; SQL embedded from SQL/fixtures/.
        .target(
            name: "ConveyorFixtures",
            dependencies: ["ConveyorPostgres", "SeededRandom"],
            plugins: ["EmbedSQLPlugin"]
        ),
        .executableTarget(
            name: "conveyor-bench",
            dependencies: [
                "ConveyorStore", "ConveyorPostgres", "ConveyorFixtures",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            plugins: ["EmbedSQLPlugin"]
        ),
        // Build tool: turns SQL/*.sql into Swift string constants.
        .executableTarget(name: "embed-sql", path: "Sources/embed-sql"),
        .plugin(
            name: "EmbedSQLPlugin",
            capability: .buildTool(),
            dependencies: ["embed-sql"],
            path: "Sources/EmbedSQLPlugin"
        ),
        // Test support: checks (and with CONVEYOR_UPDATE_DOCS=1 rewrites) the generated sections of docs/.
        .target(name: "GeneratedDocs", path: "Tests/GeneratedDocs"),
        .testTarget(name: "ConveyorCoreTests", dependencies: ["ConveyorCore", "SeededRandom"]),
        .testTarget(name: "ConveyorSignatureTests", dependencies: ["ConveyorSignature"]),
        // Pure tests of the generated year: plans, shares, ground truth, refused sizes.
        .testTarget(name: "ConveyorFixturesTests", dependencies: ["ConveyorFixtures"]),
        .testTarget(name: "ConveyorProtocolTests", dependencies: ["ConveyorProtocol", "GeneratedDocs"]),
        // Pure tests of conveyorctl's parsing and rendering: no daemon, no terminal.
        .testTarget(name: "ConveyorCLITests", dependencies: ["ConveyorCLI", "ConveyorProtocol"]),
        // Pure tests of the daemon library's pure parts: no database, no processes.
        .testTarget(
            name: "ConveyorDaemonTests",
            dependencies: [
                "ConveyorDaemon", "ConveyorProtocol", "ConveyorStore", "ConveyorPostgres", "GeneratedDocs",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ConveyorIntegrationTests",
            dependencies: [
                "ConveyorStore", "ConveyorPostgres", "ConveyorCore", "ConveyorProtocol", "ConveyorDaemon", "SeededRandom",
                "ConveyorSignature", "ConveyorFixtures",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
