import ArgumentParser

/// The options of conveyorctl itself, allowed before and after the command words.
struct GlobalOptions: ParsableArguments {
    static let defaultSocketPath = "/run/conveyor/admin.sock"
    /// The long names of these options, without `--`.
    static let names = ["socket", "json", "timeout", "watch"]

    @Option(
        help: ArgumentHelp(
            "the admin socket (default: $CONVEYOR_ADMIN_SOCKET, else \(GlobalOptions.defaultSocketPath))",
            valueName: "path"),
        completion: .file())
    var socket: String?

    @Flag(help: "print the protocol's result as one line of JSON instead of tables (events: one line each)")
    var json = false

    @Option(
        help: ArgumentHelp(
            "give up when the daemon has not answered within this many seconds, 0 to 86400 (0 waits forever); "
                + "`watch` streams without limit",
            valueName: "seconds"))
    var timeout = TimeoutSeconds.standard

    @Flag(help: "run a read-only command every \(Invocation.repeatInterval.components.seconds) seconds and show its latest result, like watch(1)")
    var watch = false
}

/// The value of `--timeout`: seconds, fractions allowed; 0 means no limit.
struct TimeoutSeconds: ExpressibleByArgument, Equatable {
    static let standard = TimeoutSeconds(limit: .seconds(60))

    /// `nil`: wait forever.
    var limit: Duration?

    init(limit: Duration?) {
        self.limit = limit
    }

    init?(argument: String) {
        guard let seconds = Double(argument), (0...86400).contains(seconds) else { return nil }
        limit = seconds == 0 ? nil : .seconds(seconds)
    }

    var defaultValueDescription: String {
        limit.map { "\($0.components.seconds)" } ?? "0"
    }
}
