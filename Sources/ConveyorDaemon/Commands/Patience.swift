import Synchronization

/// The value of `body`, or nil when it has not come within `patience`: the
/// caller answers without it while `body` goes on running unwaited (a read
/// that hangs on a dead connection until the watchdog cuts it).
func awaitAtMost<T: Sendable>(_ patience: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withCheckedThrowingContinuation { continuation in
        let first = FirstAnswer(continuation)
        // The timer ends with the answer, so no sleeping task outlives a prompt one.
        let timer = Task {
            try? await Task.sleep(for: patience)
            first.resume(with: .success(nil))
        }
        Task {
            do {
                first.resume(with: .success(try await body()))
            } catch {
                first.resume(with: .failure(error))
            }
            timer.cancel()
        }
    }
}

/// A continuation resumed by whichever answer comes first; later ones are dropped.
private final class FirstAnswer<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T?, Error>?>

    init(_ continuation: CheckedContinuation<T?, Error>) {
        self.continuation = Mutex(continuation)
    }

    func resume(with result: Result<T?, Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}
