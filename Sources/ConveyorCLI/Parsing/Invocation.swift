import ConveyorProtocol

/// Where to connect and how to print.
struct Settings: Sendable, Equatable {
    var socketPath: String
    /// Print the protocol's JSON instead of tables.
    var json: Bool
    /// Bound on connecting and waiting for each answer; `nil` waits forever.
    var timeout: Duration?
}

/// One command to send, parsed from the command line.
struct Invocation: Sendable, Equatable {
    /// How long `--watch` waits between runs.
    static let repeatInterval = Duration.seconds(2)

    var settings: Settings
    var request: Request
    /// Whether the answer is a stream of events (`watch`).
    var streams: Bool
    /// `--watch`: run it again every ``repeatInterval``.
    var repeats: Bool
}

/// What the command line asks for.
enum Action: Sendable, Equatable {
    /// Send a command and print its answer.
    case run(Invocation)
    /// No command at all: the prompt on a terminal, else a usage error.
    case prompt(Settings)
    /// Print this (help, a completion script, the manual's data) and exit 0.
    case print(String)
}
