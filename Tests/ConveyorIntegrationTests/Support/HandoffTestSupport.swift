import ConveyorPostgres
import ConveyorProtocol
import ConveyorStore
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One team on a fresh migrated database, driven in-process: reps added with
/// plain SQL (as integrations do), wins through `conveyor.record_win`, and
/// the handoff jobs run by `JobProcessor(handlers: [HandoffHandler()])` on
/// the test's own connection until nothing is due. Used by HandoffTests.
///
/// The team starts with two hunters: `ivan` (closer) and `lena`
/// (lead_generator).
final class HandoffWorld {
    let conninfo: String
    let db: PostgresConnection
    let team: String
    let teamId: Int64
    let processor = JobProcessor(handlers: [HandoffHandler()])

    init(team: String = "rail") throws {
        conninfo = try TestPostgres.makeDatabase()
        db = try TestPostgres.connect(conninfo)
        self.team = team
        teamId = try db.query("insert into conveyor.teams (name) values ($1) returning id", [team])[0]["id"].int64()
        try addRep("ivan", role: "closer")
        try addRep("lena", role: "lead_generator")
    }

    // MARK: set-up

    /// Inserts a rep with plain SQL; returns its id.
    @discardableResult
    func addRep(_ ref: String, role: String, capacity: Int = 0, skills: [String] = []) throws -> Int64 {
        try db.query(
            "insert into conveyor.reps (team_id, ref, role, capacity, skills) values ($1, $2, $3, $4, $5::text[]) returning id",
            [teamId, ref, role, capacity, skills]
        )[0]["id"].int64()
    }

    @discardableResult
    func addManager(_ ref: String, capacity: Int, skills: [String] = []) throws -> Int64 {
        try addRep(ref, role: "account_manager", capacity: capacity, skills: skills)
    }

    func repId(_ ref: String) throws -> Int64 {
        try db.query("select id from conveyor.reps where team_id = $1 and ref = $2", [teamId, ref])[0]["id"].int64()
    }

    func accountId(_ ref: String) throws -> Int64 {
        try db.query("select id from conveyor.accounts where team_id = $1 and ref = $2", [teamId, ref])[0]["id"].int64()
    }

    /// `conveyor.record_win` in its own (autocommit) transaction; returns the job id.
    @discardableResult
    func win(_ account: String, hunter: String = "ivan", needs: [String] = []) throws -> Int64 {
        try db.query(
            "select conveyor.record_win($1, $2, $3, null, $4::text[], 0) as job_id", [team, account, hunter, needs]
        )[0]["job_id"].int64()
    }

    /// Runs handoff batches until one claims nothing; returns the summed report.
    @discardableResult
    func route(maxBatches: Int = 50) throws -> BatchReport {
        var total = BatchReport()
        for _ in 0..<maxBatches {
            let report = try processor.runBatch(on: db)
            if report.claimed == 0 { return total }
            total.claimed += report.claimed
            total.succeeded += report.succeeded
            total.retried += report.retried
            total.dead += report.dead
            total.waiting += report.waiting
        }
        throw TestSetupError("handoff jobs still due after \(maxBatches) batches")
    }

    // MARK: reading

    /// Accounts owned in stage active, per account manager ref.
    func owned() throws -> [String: Int] {
        var result: [String: Int] = [:]
        for row in try db.query("""
            select r.ref, (select count(*) from conveyor.accounts a where a.owner_id = r.id and a.stage = 'active')::int as owned
            from conveyor.reps r where r.team_id = $1 and r.role = 'account_manager'
            """, [teamId]) {
            result[try row["ref"].string()] = try row["owned"].int()
        }
        return result
    }

    struct Account: Equatable {
        let id: Int64
        let stage: String
        let owner: String?
        let hunter: String?
        let handedOff: Bool
    }

    func account(_ ref: String) throws -> Account {
        let row = try db.query("""
            select a.id, a.stage, o.ref as owner, h.ref as hunter, a.handed_off_at is not null as handed_off
            from conveyor.accounts a
            left join conveyor.reps o on o.id = a.owner_id
            left join conveyor.reps h on h.id = a.hunter_id
            where a.team_id = $1 and a.ref = $2
            """, [teamId, ref])[0]
        return Account(
            id: try row["id"].int64(), stage: try row["stage"].string(), owner: try row["owner"].optionalString(),
            hunter: try row["hunter"].optionalString(), handedOff: try row["handed_off"].bool()
        )
    }

    struct Job: Equatable {
        let state: String
        let lastError: String?
        /// Seconds from now to run_at; nil when run_at is infinity.
        let dueIn: Double?
    }

    func job(_ id: Int64) throws -> Job {
        let row = try db.query("""
            select state, last_error,
                   case when isfinite(run_at) then extract(epoch from run_at - now())::float8 end as due_in
            from conveyor.jobs where id = $1
            """, [id])[0]
        return Job(
            state: try row["state"].string(), lastError: try row["last_error"].optionalString(),
            dueIn: row["due_in"].isNull ? nil : try row["due_in"].double()
        )
    }

    /// The handoff job of an account (by its unique key).
    func jobOf(_ account: String) throws -> Job {
        let id = try db.query("select id from conveyor.jobs where unique_key = 'handoff:' || $1::bigint", [try accountId(account)])[0]["id"].int64()
        return try job(id)
    }

    struct Alert: Equatable {
        let status: String
        let reason: String?
        let resolved: Bool
    }

    /// The account's `no_eligible_manager` alerts, oldest first.
    func alerts(_ account: String) throws -> [Alert] {
        try db.query("""
            select al.status, al.details->>'reason' as reason, al.resolved_at is not null as resolved
            from conveyor.alerts al join conveyor.accounts a on a.id = al.account_id
            where a.team_id = $1 and a.ref = $2 and al.kind = 'no_eligible_manager'
            order by al.id
            """, [teamId, account]).map { row in
            Alert(status: try row["status"].string(), reason: try row["reason"].optionalString(), resolved: try row["resolved"].bool())
        }
    }

    func openAlert(_ account: String) throws -> Alert? {
        try alerts(account).first { $0.status == "open" }
    }

    /// One candidate of a handoff's full explanation (`conveyor.handoff_explanation`), named.
    struct Candidate: Equatable {
        let repId: Int64
        let ref: String?
        let owned: Int64?
        let capacity: Int64?
        /// owned / capacity (1 when capacity is 0).
        let utilization: Double?
        let reasons: [String]
    }

    /// The candidates of a full explanation (the JSON of `conveyor.handoff_explanation`).
    static func candidates(of explanation: JSONValue) -> [Candidate] {
        (explanation["candidates"]?.arrayValue ?? []).map { entry in
            Candidate(
                repId: entry["rep_id"]?.intValue ?? 0, ref: entry["rep"]?.stringValue, owned: entry["owned"]?.intValue,
                capacity: entry["capacity"]?.intValue, utilization: entry["utilization"]?.doubleValue ?? 1,
                reasons: (entry["excluded_because"]?.arrayValue ?? []).compactMap(\.stringValue)
            )
        }
    }

    struct Handoff {
        let id: Int64
        let kind: String
        let from: String?
        let to: String
        let explanation: JSONValue
        let candidates: [Candidate]

        /// The explanation's candidate entry of `ref`.
        func candidate(_ ref: String) -> Candidate? {
            candidates.first { $0.ref == ref }
        }

        /// The exclusion reasons of `ref` in the explanation (nil when not listed).
        func reasons(_ ref: String) -> [String]? {
            candidate(ref)?.reasons
        }

        var candidateRefs: [String] { candidates.compactMap(\.ref) }
    }

    /// The account's handoffs, oldest first.
    func handoffs(_ account: String) throws -> [Handoff] {
        try db.query("""
            select h.id, h.kind, f.ref as from_ref, t.ref as to_ref, h.explanation::text as explanation,
                   conveyor.handoff_explanation(h.id)::text as full_explanation
            from conveyor.handoffs h
            join conveyor.accounts a on a.id = h.account_id
            left join conveyor.reps f on f.id = h.from_rep_id
            join conveyor.reps t on t.id = h.to_rep_id
            where a.team_id = $1 and a.ref = $2
            order by h.id
            """, [teamId, account]).map { row in
            Handoff(
                id: try row["id"].int64(), kind: try row["kind"].string(), from: try row["from_ref"].optionalString(),
                to: try row["to_ref"].string(), explanation: try JSONValue(parsing: try row["explanation"].string()),
                candidates: Self.candidates(of: try JSONValue(parsing: try row["full_explanation"].string()))
            )
        }
    }

    func count(_ sql: String, _ parameters: [any PostgresBindable] = []) throws -> Int {
        try db.query(sql, parameters)[0][0].int()
    }

    /// The account managers' refs in id order (as explanations list them).
    func managerRefs() throws -> [String] {
        try db.query("select ref from conveyor.reps where team_id = $1 and role = 'account_manager' order by id", [teamId])
            .map { try $0["ref"].string() }
    }

    // MARK: invariants

    /// Rules that hold after every step of every scenario (Issue recorded per violation):
    /// nobody over capacity (unless `capacityMayBeExceeded`), every handoff's explanation
    /// names its receiver as chosen and its kind, nobody receives an account they hunted,
    /// automatic handoffs come from the hunter and are at most one per account, and every
    /// active account's owner is the receiver of its latest handoff.
    func checkInvariants(capacityMayBeExceeded: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws {
        if !capacityMayBeExceeded {
            let over = try db.query("""
                select r.ref from conveyor.reps r
                where r.team_id = $1 and r.role = 'account_manager'
                  and (select count(*) from conveyor.accounts a where a.owner_id = r.id and a.stage = 'active') > r.capacity
                """, [teamId]).map { try $0["ref"].string() }
            #expect(over.isEmpty, "managers over capacity: \(over)", sourceLocation: sourceLocation)
        }
        for row in try db.query("""
            select h.id, h.kind, h.from_rep_id, h.to_rep_id, a.hunter_id, h.explanation ->> 'kind' as explained_kind,
                   (h.explanation ->> 'chosen_rep_id')::bigint as chosen_rep_id,
                   conveyor.handoff_explanation(h.id)::text as full_explanation
            from conveyor.handoffs h join conveyor.accounts a on a.id = h.account_id
            where a.team_id = $1 order by h.id
            """, [teamId]) {
            let id = try row["id"].int64()
            let kind = try row["kind"].string()
            let to = try row["to_rep_id"].int64()
            let hunter = try row["hunter_id"].optionalInt64()
            let explanation = try JSONValue(parsing: try row["full_explanation"].string())
            #expect(try row["chosen_rep_id"].optionalInt64() == to, "handoff \(id): explanation chose another rep", sourceLocation: sourceLocation)
            #expect(try row["explained_kind"].optionalString() == kind, "handoff \(id): explanation kind", sourceLocation: sourceLocation)
            #expect(explanation["reconstructed"]?.boolValue == true, "handoff \(id): explanation not rebuilt", sourceLocation: sourceLocation)
            let chosen = (explanation["candidates"]?.arrayValue ?? []).filter { $0["verdict"]?.stringValue == "chosen" }
            #expect(chosen.compactMap { $0["rep_id"]?.intValue } == [to], "handoff \(id): chosen \(chosen)", sourceLocation: sourceLocation)
            #expect(to != hunter, "handoff \(id) went to the account's hunter", sourceLocation: sourceLocation)
            if kind == "auto" {
                #expect(try row["from_rep_id"].optionalInt64() == hunter, "auto handoff \(id) must come from the hunter", sourceLocation: sourceLocation)
            }
            let ids = Self.candidates(of: explanation).map(\.repId)
            #expect(ids == ids.sorted() && ids.contains(to), "handoff \(id): candidates \(ids)", sourceLocation: sourceLocation)
        }
        let doubled = try count("""
            select count(*)::int from (
                select h.account_id from conveyor.handoffs h join conveyor.accounts a on a.id = h.account_id
                where a.team_id = $1 and h.kind = 'auto' group by h.account_id having count(*) > 1) d
            """, [teamId])
        #expect(doubled == 0, "accounts with more than one automatic handoff: \(doubled)", sourceLocation: sourceLocation)
        let mismatched = try db.query("""
            select a.ref from conveyor.accounts a
            where a.team_id = $1 and a.stage = 'active'
              and a.owner_id is distinct from (select h.to_rep_id from conveyor.handoffs h where h.account_id = a.id order by h.id desc limit 1)
            """, [teamId]).map { try $0["ref"].string() }
        #expect(mismatched.isEmpty, "active accounts whose owner is not their latest handoff's receiver: \(mismatched)", sourceLocation: sourceLocation)
    }
}

/// Shorthands for the daemon tests (HandoffDaemonTests).
enum HandoffDaemon {
    /// Polls `condition` every `interval` seconds until it holds or `timeout` passes.
    static func waitUntil(timeout: Double, interval: Double = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while true {
            if try condition() { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(useconds_t(interval * 1_000_000))
        }
    }

    static func int(_ connection: PostgresConnection, _ sql: String, _ parameters: [any PostgresBindable] = []) throws -> Int {
        try connection.query(sql, parameters)[0][0].int()
    }

    /// Every row of the domain tables as text: equal snapshots mean no row changed.
    /// (`admin_audit` is left out: refused commands are audited on purpose.)
    static func snapshot(_ connection: PostgresConnection) throws -> String {
        try connection.query("""
            select concat_ws(E'\\n--\\n',
                (select string_agg(t::text, E'\\n' order by t.id) from conveyor.teams t),
                (select string_agg(r::text, E'\\n' order by r.id) from conveyor.reps r),
                (select string_agg(a::text, E'\\n' order by a.id) from conveyor.accounts a),
                (select string_agg(j::text, E'\\n' order by j.id) from conveyor.jobs j),
                (select string_agg(h::text, E'\\n' order by h.id) from conveyor.handoffs h),
                (select string_agg(al::text, E'\\n' order by al.id) from conveyor.alerts al),
                (select string_agg(e::text, E'\\n' order by e.team_id) from conveyor.routing_epochs e)) as state
            """)[0]["state"].string()
    }
}

/// An atomic integer that `@Sendable` closures (threads) can share.
final class SharedCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// A result handed from a thread to the test.
final class SharedResult<T: Sendable>: Sendable {
    let value = Mutex<Result<T, any Error>?>(nil)
}
