/// A read that callers asking together share. A caller takes the latest
/// read if it began at most `maxAge` before the caller asked (running or
/// done, but not failed); otherwise it joins the read that has not begun yet,
/// or begins the next one, which waits for the one running. So at most one
/// read runs at a time however many callers ask, and no caller gets a value
/// read `maxAge` or more before it asked (with `maxAge` zero: only reads begun after).
///
/// With `refreshAfter`, a caller that takes a finished read older than that
/// also begins the next read without waiting for it, so callers that keep
/// asking (monitors polling `status`) are answered from memory and none of
/// them waits for the database, while the answer stays within `maxAge`.
///
/// `status` reads the database through one, so 50 clients asking ten times
/// a second cost about twenty reads a second, not 500 queued on the admin
/// connections.
actor SharedRead<Value: Sendable> {
    private let maxAge: Duration
    private let refreshAfter: Duration?
    private let read: @Sendable () async throws -> Value
    private let clock = ContinuousClock()
    /// The latest read that began, and when; cleared when it fails.
    private var latest: (task: Task<Value, Error>, began: ContinuousClock.Instant)?
    /// The read that begins when `latest` ends; every caller meanwhile joins it.
    private var next: Task<Value, Error>?
    /// The newest read that succeeded, and when it began; cleared when a read fails.
    private var newest: (value: Value, began: ContinuousClock.Instant)?

    init(maxAge: Duration = .zero, refreshAfter: Duration? = nil, _ read: @escaping @Sendable () async throws -> Value) {
        self.maxAge = maxAge
        self.refreshAfter = refreshAfter
        self.read = read
    }

    func value() async throws -> Value {
        let asked = clock.now
        if let newest, asked - newest.began < maxAge {
            if let refreshAfter, asked - newest.began >= refreshAfter, next == nil, latest?.began == newest.began {
                _ = beginNext()
            }
            return newest.value
        }
        if let latest, asked - latest.began < maxAge { return try await latest.task.value }
        if let next { return try await next.value }
        return try await beginNext().value
    }

    /// Queues the read after the latest one; callers until it begins join it.
    private func beginNext() -> Task<Value, Error> {
        let previous = latest?.task
        let task = Task { [read] in
            _ = await previous?.result
            let began = self.began()
            do {
                let value = try await read()
                self.succeeded(value, began: began)
                return value
            } catch {
                self.failed()
                throw error
            }
        }
        next = task
        return task
    }

    /// The waiting read begins: later callers may share it, or begin the one after it.
    private func began() -> ContinuousClock.Instant {
        let now = clock.now
        latest = next.map { ($0, now) }
        next = nil
        return now
    }

    private func succeeded(_ value: Value, began: ContinuousClock.Instant) {
        if newest.map({ $0.began < began }) ?? true { newest = (value, began) }
    }

    /// The latest read failed: nobody shares its failure, nor an older success.
    private func failed() {
        latest = nil
        newest = nil
    }
}
