import ConveyorPostgres
import Foundation

/// A small team whose attachment risks are known, for the scan's tests: one
/// hunter (`hunter`), three account managers (`m1`, `m2`, `m3`) and the
/// accounts each test adds, with interactions written by set-based SQL.
struct ScanFixture {
    let conninfo: String
    let db: PostgresConnection
    let team: String
    let teamId: Int64

    /// Creates the team and its reps in the database at `conninfo`.
    init(conninfo: String, team: String = "rail") throws {
        self.conninfo = conninfo
        db = try TestPostgres.connect(conninfo)
        self.team = team
        teamId = try db.query("insert into conveyor.teams (name, time_zone) values ($1, 'Asia/Shanghai') returning id", [team])[0]["id"].int64()
        try db.query(
            """
            insert into conveyor.reps (team_id, ref, role, capacity)
            select $1, ref, case when ref = 'hunter' then 'closer' else 'account_manager' end, 1000
            from unnest(array['hunter', 'm1', 'm2', 'm3']) as ref
            """, [teamId])
    }

    /// An active account won by `hunter`, owned by `m1`, handed off `handedOffDaysAgo` days ago.
    @discardableResult
    func account(_ ref: String, handedOffDaysAgo: Int = 60, value: Double = 1000) throws -> Int64 {
        try db.query(
            """
            insert into conveyor.accounts (team_id, ref, stage, hunter_id, owner_id, won_at, handed_off_at, value)
            select $1, $2, 'active', h.id, o.id, now() - make_interval(days => $3::int + 1), now() - make_interval(days => $3::int), $4::numeric
            from conveyor.reps h, conveyor.reps o
            where h.team_id = $1 and h.ref = 'hunter' and o.team_id = $1 and o.ref = 'm1'
            returning id
            """, [teamId, ref, handedOffDaysAgo, value])[0]["id"].int64()
    }

    /// `count` interactions by `rep` on `account`, spread evenly from
    /// `fromDaysAgo` to `toDaysAgo` days ago, naming `contact`.
    func interactions(
        _ account: String, by rep: String, _ count: Int, fromDaysAgo: Double = 80, toDaysAgo: Double = 1, contact: String? = nil
    ) throws {
        try db.query(
            """
            insert into conveyor.interactions (account_id, rep_id, occurred_at, kind, contact)
            select a.id, r.id,
                   now() - make_interval(secs => ($4::float8 - ($4::float8 - $5::float8) * g / $3::int) * 86400), 'call', $6
            from conveyor.accounts a, conveyor.reps r, generate_series(1, $3::int) as g
            where a.team_id = $1 and a.ref = $2 and r.team_id = $1 and r.ref = $7
            """, [teamId, account, count, fromDaysAgo, toDaysAgo, contact, rep])
    }

    /// The accounts the example names, each with one known risk (or none):
    /// `hunter70` (hunter_still_servicing), `solo` (single_threaded and no_backup),
    /// `top85` (single_threaded), `split55` (none), `sparse` (not scored),
    /// `fresh` (hunter inside the grace period: none), `bowtie` (bow_tie).
    func exampleAccounts() throws {
        try account("hunter70", handedOffDaysAgo: 30, value: 100)
        try interactions("hunter70", by: "hunter", 7, fromDaysAgo: 29)
        try interactions("hunter70", by: "m2", 3, fromDaysAgo: 29)
        try account("solo", value: 200)
        try interactions("solo", by: "m1", 10)
        try account("top85", value: 300)
        try interactions("top85", by: "m1", 17)
        try interactions("top85", by: "m2", 3)
        try account("split55", value: 400)
        try interactions("split55", by: "m1", 11)
        try interactions("split55", by: "m2", 9)
        try account("sparse", value: 500)
        try interactions("sparse", by: "m1", 3)
        try account("fresh", handedOffDaysAgo: 5, value: 600)
        try interactions("fresh", by: "hunter", 4, fromDaysAgo: 60, toDaysAgo: 6)
        try interactions("fresh", by: "m1", 4, fromDaysAgo: 60, toDaysAgo: 6)
        try interactions("fresh", by: "m2", 2, fromDaysAgo: 60, toDaysAgo: 6)
        try interactions("fresh", by: "hunter", 2, fromDaysAgo: 4)
        try account("bowtie", value: 700)
        try interactions("bowtie", by: "m1", 8, contact: "Li Wei")
        try interactions("bowtie", by: "m2", 2, contact: "Anna Nowak")
        try interactions("bowtie", by: "m2", 5)
        try interactions("bowtie", by: "m3", 5)
    }

    /// What a correct scan of `exampleAccounts` raises: account, kind, the person it hangs on.
    static let exampleFindings: Set<Finding> = [
        Finding("bowtie", "bow_tie", "m1"),
        Finding("hunter70", "hunter_still_servicing", "hunter"),
        Finding("solo", "no_backup", "m1"),
        Finding("solo", "single_threaded", "m1"),
        Finding("top85", "single_threaded", "m1"),
    ]

    /// One alert as the tests compare them.
    struct Finding: Hashable, CustomStringConvertible {
        let account: String
        let kind: String
        let rep: String
        init(_ account: String, _ kind: String, _ rep: String) {
            (self.account, self.kind, self.rep) = (account, kind, rep)
        }
        var description: String { "\(account)/\(kind)/\(rep)" }
    }

    /// The team's attachment alerts with `status` (nil: unresolved).
    func findings(status: String? = nil) throws -> Set<Finding> {
        Set(try db.query(
            """
            select a.ref as account, al.kind, r.ref as rep
            from conveyor.alerts al join conveyor.accounts a on a.id = al.account_id join conveyor.reps r on r.id = al.rep_id
            where al.team_id = $1 and case when $2::text is null then al.status <> 'resolved' else al.status = $2 end
            """, [teamId, status]).map { Finding(try $0["account"].string(), try $0["kind"].string(), try $0["rep"].string()) })
    }

    /// One alert's id, status, severity and details.
    func alert(_ account: String, _ kind: String) throws -> (id: Int64, status: String, severity: String, details: String)? {
        try db.query(
            """
            select al.id, al.status, al.severity, al.details::text as details
            from conveyor.alerts al join conveyor.accounts a on a.id = al.account_id
            where al.team_id = $1 and a.ref = $2 and al.kind = $3
            order by al.id desc limit 1
            """, [teamId, account, kind]).first.map {
            (try $0["id"].int64(), try $0["status"].string(), try $0["severity"].string(), try $0["details"].string())
        }
    }

    /// Runs the team's scan in its own transaction, as the scan job does; returns the outcome.
    @discardableResult
    func scan() throws -> [String: Int64] {
        let text = try db.query("select conveyor.scan_team($1)::text as outcome", [teamId])[0]["outcome"].string()
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        return object.compactMapValues { ($0 as? NSNumber)?.int64Value }
    }
}
