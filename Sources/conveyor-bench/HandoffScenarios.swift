import ConveyorPostgres
import ConveyorStore
import Foundation

/// The handoff scenarios: handoff (the daemon), handoff-raw (hand-written
/// set-based SQL), handoff-latency (wins at a steady rate).
///
/// Data: 3 teams of 50 account managers (half with `customs`, capacity
/// enough for every win), one hunter each; `--jobs` won accounts spread over
/// the teams, a quarter needing `customs`, each with its handoff job, as
/// `conveyor.record_win` leaves them.
struct HandoffScenarios {
    let conninfo: String
    let options: BenchOptions
    static let teams = ["china-rail", "sea-freight", "euro-road"]
    static let managersPerTeam = 50

    private func connect() throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo, applicationName: "conveyor-bench")
    }

    /// Fresh teams and reps, and (unless `wins == 0`) won accounts, analyzed,
    /// whose handoff jobs `enqueueHandoffs` adds.
    private func prepare(_ connection: PostgresConnection, wins: Int) throws {
        try connection.execute("truncate conveyor.teams, conveyor.jobs, conveyor.probes cascade")
        let capacity = max(100, wins / (Self.teams.count * Self.managersPerTeam) * 2)
        try connection.query("""
            with teams as (
                insert into conveyor.teams (name) select unnest($1::text[]) returning id
            ), hunters as (
                insert into conveyor.reps (team_id, ref, role) select id, 'hunter', 'closer' from teams
            )
            insert into conveyor.reps (team_id, ref, role, capacity, skills)
            select t.id, 'am-' || n, 'account_manager', $2,
                   case when n % 2 = 0 then '{customs,rail}'::text[] else '{rail}'::text[] end
            from teams t cross join generate_series(1, $3) as n
            """, [Self.teams, capacity, Self.managersPerTeam])
        guard wins > 0 else { return }
        try connection.query("""
            with hunters as (
                select r.team_id, r.id, row_number() over (order by r.team_id) - 1 as slot
                from conveyor.reps r where r.ref = 'hunter'
            )
            insert into conveyor.accounts (team_id, ref, stage, hunter_id, won_at, needs)
            select h.team_id, 'acc-' || n, 'won', h.id, now(),
                   case when n % 4 = 0 then '{customs}'::text[] else '{}'::text[] end
            from generate_series(1, $1) as n
            join hunters h on h.slot = n % 3
            """, [wins])
        try connection.execute("vacuum analyze")
    }

    /// One handoff job per won account, in account order, as
    /// `conveyor.record_win` enqueues them; their commit wakes the daemon.
    private func enqueueHandoffs(_ connection: PostgresConnection) throws {
        try connection.execute("""
            insert into conveyor.jobs (kind, payload, unique_key, team_id)
            select 'handoff', jsonb_build_object('account_id', id), 'handoff:' || id, team_id
            from conveyor.accounts where stage = 'won' order by id
            """)
    }

    /// Checks that every win was handed off exactly once and nobody is over capacity.
    private func verify(_ connection: PostgresConnection, wins: Int, scenario: String) throws {
        let row = try connection.query("""
            select (select count(*) from conveyor.accounts where stage = 'active')::int as active,
                   (select count(*) from conveyor.handoffs)::int as handoffs,
                   (select count(*) from conveyor.reps r where r.capacity <
                       (select count(*) from conveyor.accounts a where a.owner_id = r.id and a.stage = 'active'))::int as over
            """)[0]
        let (active, handoffs, over) = (try row["active"].int(), try row["handoffs"].int(), try row["over"].int())
        guard active == wins, handoffs == wins, over == 0 else {
            throw BenchError("\(scenario): \(active) active, \(handoffs) handoffs for \(wins) wins, \(over) managers over capacity")
        }
    }

    /// The daemon hands off `--jobs` wins; the clock runs from the jobs'
    /// commit to the handoff event that completes the count.
    func handoff() throws -> ScenarioResult {
        let connection = try connect()
        let listener = try connect()
        try prepare(connection, wins: 0)
        let daemon = try BenchDaemon(conninfo: conninfo, workers: options.workers, batchSize: options.batchSize)
        defer { daemon.stop() }
        try prepare(connection, wins: options.jobs)
        try listener.listen("conveyor_events")
        let cpuBefore = daemon.cpuSeconds
        try enqueueHandoffs(connection)
        let started = Date()
        var peakRSS = daemon.residentBytes
        var handedOff = 0
        var lastProgress = started
        while handedOff < options.jobs {
            let events = try listener.waitForNotifications(timeout: 0.1)
            handedOff += events.compactMap { try? JSONDecoder().decode(HandoffsEvent.self, from: Data($0.payload.utf8)).count }.reduce(0, +)
            peakRSS = max(peakRSS, daemon.residentBytes)
            if !events.isEmpty { lastProgress = Date() }
            guard Date().timeIntervalSince(lastProgress) < 30 else {
                throw BenchError("handoff: stalled at \(handedOff) of \(options.jobs) handoffs")
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let cpu = daemon.cpuSeconds - cpuBefore
        try verify(connection, wins: options.jobs, scenario: "handoff")
        return ScenarioResult(scenario: "handoff", figures: [
            ("handoffs", Double(options.jobs)), ("seconds", seconds), ("handoffs_per_second", Double(options.jobs) / seconds),
            ("workers", Double(options.workers)), ("peak_rss_mib", Double(peakRSS) / 1_048_576),
            ("daemon_cpu_us_per_handoff", cpu / Double(options.jobs) * 1e6),
        ])
    }

    /// The part of a `handoffs` event on conveyor_events the bench counts.
    private struct HandoffsEvent: Decodable {
        let count: Int
    }

    /// The same row changes by hand-written SQL on one connection: claim a
    /// batch, spread its accounts round-robin over the team's managers with
    /// the skills and room, least loaded first (loads read once per batch), move the
    /// accounts, write the handoffs with an explanation of the same shape
    /// (each team's candidate list built once per batch), complete the jobs.
    func handoffRaw() throws -> ScenarioResult {
        let connection = try connect()
        try prepare(connection, wins: options.jobs)
        try enqueueHandoffs(connection)
        let started = Date()
        while true {
            let done = try connection.query("""
                with due as (
                    select id, (payload ->> 'account_id')::bigint as account_id from conveyor.jobs
                    where state in ('available', 'retryable') and run_at <= now()
                    order by priority, run_at, id limit $1 for update skip locked
                ), accounts as (
                    select a.id, a.team_id, a.hunter_id, a.needs,
                           row_number() over (partition by a.team_id, a.needs order by a.id) as n
                    from conveyor.accounts a join due on due.account_id = a.id
                ), managers as (
                    select r.id, r.ref, r.team_id, r.skills, r.capacity, coalesce(l.owned, 0) as owned
                    from conveyor.reps r left join conveyor.rep_loads l on l.rep_id = r.id
                    where r.role = 'account_manager' and r.active and r.team_id in (select team_id from accounts)
                ), groups as (
                    select g.team_id, g.needs, array_agg(m.id order by m.owned, m.id) as reps
                    from (select distinct team_id, needs from accounts) as g
                    join managers m on m.team_id = g.team_id and m.skills @> g.needs and m.owned < m.capacity
                    group by g.team_id, g.needs
                ), chosen as (
                    select a.id as account_id, a.team_id, a.hunter_id, g.reps[(a.n - 1) % cardinality(g.reps) + 1] as rep_id
                    from accounts a join groups g on g.team_id = a.team_id and g.needs = a.needs
                ), lists as (
                    select team_id, jsonb_agg(m.id || ' ' || m.owned || ' ' || m.capacity || ' - -' order by m.id) as candidates
                    from managers m group by team_id
                ), moved as (
                    update conveyor.accounts a set owner_id = c.rep_id, stage = 'active', handed_off_at = now(), updated_at = now()
                    from chosen c where a.id = c.account_id returning a.id
                ), written as (
                    insert into conveyor.handoffs (account_id, from_rep_id, to_rep_id, kind, explanation)
                    select c.account_id, c.hunter_id, c.rep_id, 'auto', jsonb_build_object(
                        'kind', 'auto', 'account_id', c.account_id, 'chosen_rep_id', c.rep_id,
                        'rule', 'lowest_utilization', 'fallback_used', false, 'decided_at', now(),
                        'candidate_fields', '["rep_id","owned","capacity","last_assigned_ms_ago","excluded_because"]'::jsonb,
                        'candidates', l.candidates)
                    from chosen c join lists l on l.team_id = c.team_id
                    returning 1
                ), completed as (
                    update conveyor.jobs j set state = 'succeeded', attempts = j.attempts + 1, attempted_at = now(), finished_at = now()
                    from due where j.id = due.id
                    returning 1
                )
                select (select count(*) from completed)::int as done, (select count(*) from written)::int as written
                """, [options.batchSize])[0]["done"].int()
            if done == 0 { break }
        }
        let seconds = Date().timeIntervalSince(started)
        return ScenarioResult(scenario: "handoff-raw", figures: [
            ("handoffs", Double(options.jobs)), ("seconds", seconds), ("handoffs_per_second", Double(options.jobs) / seconds),
        ])
    }

    /// Wins at `--rate` per second through record_win; pickup latency from
    /// the win's commit to the handoff batch's notification.
    func handoffLatency() throws -> ScenarioResult {
        let connection = try connect()
        let listener = try connect()
        try prepare(connection, wins: 0)
        try listener.listen("conveyor_events")
        let daemon = try BenchDaemon(conninfo: conninfo, workers: options.workers, batchSize: options.batchSize)
        defer { daemon.stop() }
        let driver = SteadyRate<String>(rate: options.rate, seconds: options.seconds, listener: listener)
        let result = try driver.run(
            send: { n in
                let ref = "live-\(n)"
                try connection.query("select conveyor.record_win($1, $2, 'hunter')", [Self.teams[n % 3], ref])
                return ref
            },
            completed: { events in
                try events.flatMap { event -> [String] in
                    struct Range: Decodable { let team_id: Int64; let first_id: Int64; let last_id: Int64 }
                    guard let range = try? JSONDecoder().decode(Range.self, from: Data(event.payload.utf8)) else { return [] }
                    return try EventStore.handoffs(connection, teamId: range.team_id, firstId: range.first_id, lastId: range.last_id)
                        .map(\.account)
                }
            }
        )
        return ScenarioResult(scenario: "handoff-latency", figures: [
            ("rate_per_second", options.rate), ("wins", Double(result.count)),
            ("p50_ms", result.p50), ("p99_ms", result.p99), ("max_ms", result.max),
        ])
    }
}
