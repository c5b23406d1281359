import ServiceLifecycle
import Synchronization

/// Lets parts of the daemon (signals, the `shutdown` command) start the
/// graceful shutdown of the service group that contains them, telling
/// systemd `STOPPING=1` as it begins.
final class ShutdownTrigger: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)
    private let started = Atomic<Bool>(false)
    private let notifier: SystemdNotifier

    init(notifier: SystemdNotifier) { self.notifier = notifier }

    func attach(_ serviceGroup: ServiceGroup) { group.withLock { $0 = serviceGroup } }

    /// True once shutdown began.
    var isShuttingDown: Bool { started.load(ordering: .relaxed) }

    /// Starts graceful shutdown; returns false if it had already begun.
    @discardableResult
    func trigger() async -> Bool {
        guard !started.exchange(true, ordering: .relaxed) else { return false }
        notifier.notify("STOPPING=1")
        await group.withLock { $0 }?.triggerGracefulShutdown()
        return true
    }
}
