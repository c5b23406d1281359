import Synchronization

/// The configuration in force: the one the daemon started with, except for
/// the keys that apply at once on reload (`ConfigKey.Reload.applies`: log
/// level and format, the socket's limits, the operator groups), which hold
/// what the last reload read. Keys that need a restart keep their start values.
final class RunningConfig: Sendable {
    /// What a reload found and did.
    struct ReloadOutcome: Sendable, Equatable {
        /// Keys whose new values are now in force.
        let applied: [String]
        /// Keys whose values in the sources differ from the running ones; they take effect at the next start.
        let restartRequired: [String]
    }

    let started: DaemonConfig
    private let state: Mutex<(running: DaemonConfig, lastRead: DaemonConfig)>

    init(_ config: DaemonConfig) {
        started = config
        state = Mutex((config, config))
    }

    var current: DaemonConfig { state.withLock { $0.running } }

    /// Puts the live keys of `fresh` in force. A live key counts as applied
    /// only when the sources changed it since the last read, so a level set
    /// with `log.level` stays until the file's level changes.
    func reload(_ fresh: DaemonConfig) -> ReloadOutcome {
        state.withLock { state in
            var applied: [String] = []
            for key in DaemonConfig.table where key.reload == .applies && fresh.value(of: key.name) != state.lastRead.value(of: key.name) {
                let copied = key.assign(&state.running, key.read(fresh))
                precondition(copied, "\(key.name) reads back what it stores")
                applied.append(key.name)
            }
            state.lastRead = fresh
            let restartRequired = DaemonConfig.table.filter { key in
                key.reload == .restart && fresh.value(of: key.name) != started.value(of: key.name)
            }.map(\.name)
            return ReloadOutcome(applied: applied, restartRequired: restartRequired)
        }
    }
}
