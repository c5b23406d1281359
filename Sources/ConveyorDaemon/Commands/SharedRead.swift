/// A read that callers asking together share. A caller takes the latest
/// read if it began at most `maxAge` before the caller asked (running or
/// done, but not failed); otherwise it joins the read that has not begun yet,
/// or begins the next one, which waits for the one running. So at most one
/// read runs at a time however many callers ask, and no caller gets a value
/// read `maxAge` or more before it asked (with `maxAge` zero: only reads begun after).
///
/// `status` reads the database through one, so 50 clients asking ten times
/// a second cost about ten reads a second, not 500 queued on the admin
/// connections.
actor SharedRead<Value: Sendable> {
    private let maxAge: Duration
    private let read: @Sendable () async throws -> Value
    private let clock = ContinuousClock()
    /// The latest read that began, and when; cleared when it fails.
    private var latest: (task: Task<Value, Error>, began: ContinuousClock.Instant)?
    /// The read that begins when `latest` ends; every caller meanwhile joins it.
    private var next: Task<Value, Error>?

    init(maxAge: Duration = .zero, _ read: @escaping @Sendable () async throws -> Value) {
        self.maxAge = maxAge
        self.read = read
    }

    func value() async throws -> Value {
        let asked = clock.now
        if let latest, asked - latest.began < maxAge { return try await latest.task.value }
        if let next { return try await next.value }
        let previous = latest?.task
        let task = Task { [read] in
            _ = await previous?.result
            self.began()
            do {
                return try await read()
            } catch {
                self.failed()
                throw error
            }
        }
        next = task
        return try await task.value
    }

    /// The waiting read begins: later callers may share it, or begin the one after it.
    private func began() {
        latest = next.map { ($0, clock.now) }
        next = nil
    }

    /// The latest read failed: nobody shares its failure.
    private func failed() {
        latest = nil
    }
}
