import ServiceLifecycle

/// Sleeps for `duration`; false once graceful shutdown (or cancellation)
/// began, so a periodic service ends instead of spinning:
/// `repeat { … } while await pauseUnlessShuttingDown(for: interval)`.
func pauseUnlessShuttingDown(for duration: Duration) async -> Bool {
    (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }) != nil
}
