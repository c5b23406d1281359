import ConveyorProtocol

/// The clock of a command that waits and reports (`drain`, `rep.depart`,
/// `scan.run`): how long it has waited, and whether its next progress event
/// is due (one a second).
struct ProgressTicker {
    static let interval: Duration = .seconds(1)
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var reported: ContinuousClock.Instant

    init() {
        started = clock.now
        reported = started
    }

    var waited: Duration { clock.now - started }

    /// `waited` in whole milliseconds, as the events and answers show it.
    var waitedMilliseconds: JSONValue { .int(Int64(waited / .milliseconds(1))) }

    /// True once per interval: the caller sends its event now.
    mutating func eventDue() -> Bool {
        guard clock.now - reported >= Self.interval else { return false }
        reported = clock.now
        return true
    }
}
