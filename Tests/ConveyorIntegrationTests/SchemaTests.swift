import ConveyorPostgres
// @testable only to compare the copied claim query with the one the workers run.
@testable import ConveyorStore
import Foundation
import Testing

/// The SQL surface of docs/sql.md, checked against the migrated schema.
@Suite struct SchemaTests {
    /// The columns docs/sql.md documents for integrations, written out: table → [(column, udt_name)].
    static let specColumns: [(table: String, columns: [(name: String, type: String)])] = [
        ("teams", [("id", "int8"), ("name", "text"), ("time_zone", "text"), ("scan_local_time", "time"), ("paused", "bool")]),
        ("reps", [("id", "int8"), ("team_id", "int8"), ("ref", "text"), ("name", "text"), ("role", "text"),
                  ("capacity", "int4"), ("skills", "_text"), ("active", "bool"), ("away_until", "timestamptz")]),
        ("accounts", [("id", "int8"), ("team_id", "int8"), ("ref", "text"), ("name", "text"), ("stage", "text"),
                      ("needs", "_text"), ("value", "numeric"), ("hunter_id", "int8"), ("owner_id", "int8"),
                      ("won_at", "timestamptz"), ("handed_off_at", "timestamptz")]),
        ("interactions", [("id", "int8"), ("account_id", "int8"), ("rep_id", "int8"), ("occurred_at", "timestamptz"),
                          ("kind", "text"), ("contact", "text")]),
        ("deals", [("id", "int8"), ("account_id", "int8"), ("rep_id", "int8"), ("closed_at", "timestamptz"),
                   ("amount", "numeric"), ("margin", "numeric")]),
        ("handoffs", [("id", "int8"), ("account_id", "int8"), ("from_rep_id", "int8"), ("to_rep_id", "int8"),
                      ("kind", "text"), ("created_at", "timestamptz"), ("explanation", "jsonb")]),
        ("alerts", [("id", "int8"), ("team_id", "int8"), ("account_id", "int8"), ("rep_id", "int8"), ("kind", "text"),
                    ("severity", "text"), ("status", "text"), ("first_seen_at", "timestamptz"),
                    ("last_seen_at", "timestamptz"), ("resolved_at", "timestamptz"), ("details", "jsonb")]),
        ("jobs", [("id", "int8"), ("kind", "text"), ("state", "text"), ("attempts", "int4"), ("run_at", "timestamptz"),
                  ("last_error", "text")]),
    ]

    /// Expects `body` to fail with `sqlState`; returns the error.
    @discardableResult
    static func expectFailure(
        _ sqlState: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) -> PostgresError? {
        do {
            try body()
            Issue.record("\(what) must fail with SQLSTATE \(sqlState)", sourceLocation: sourceLocation)
        } catch let error as PostgresError {
            #expect(error.sqlState == sqlState, "\(what): \(error)", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("\(what): unexpected \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    static func count(_ connection: PostgresConnection, _ table: String) throws -> Int {
        try connection.query("select count(*) as n from conveyor.\(table)")[0]["n"].int()
    }

    @Test func everySpecColumnExistsWithItsType() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        for (table, columns) in Self.specColumns {
            let rows = try connection.query(
                "select column_name, udt_name from information_schema.columns where table_schema = 'conveyor' and table_name = $1",
                [table])
            var actual: [String: String] = [:]
            for row in rows { actual[try row["column_name"].string()] = try row["udt_name"].string() }
            #expect(!actual.isEmpty, "table conveyor.\(table) is missing")
            for (column, type) in columns {
                #expect(actual[column] == type, "conveyor.\(table).\(column): expected \(type), found \(actual[column] ?? "no column")")
            }
        }
        // named uniqueness and defaults documented in docs/sql.md
        let defaults = try connection.query("""
            select column_name, column_default from information_schema.columns
            where table_schema = 'conveyor' and table_name = 'teams' and column_name in ('scan_local_time', 'paused')
            order by column_name
            """)
        #expect(try defaults[0]["column_default"].optionalString()?.contains("false") == true)
        #expect(try defaults[1]["column_default"].optionalString()?.contains("02:00") == true)
    }

    @Test func everyColumnBeyondTheSpecHasADefaultOrIsNullable() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        for (table, columns) in Self.specColumns {
            let rows = try connection.query("""
                select column_name from information_schema.columns
                where table_schema = 'conveyor' and table_name = $1
                  and not (column_name = any($2::text[]))
                  and is_nullable = 'NO' and column_default is null
                  and is_identity = 'NO' and is_generated = 'NEVER'
                """, [table, columns.map(\.name)])
            let offenders = try rows.map { try $0["column_name"].string() }
            #expect(offenders.isEmpty, "conveyor.\(table) has columns beyond the public ones (docs/sql.md) that an INSERT of the public columns cannot fill: \(offenders)")
        }
    }

    @Test func minimalInsertsNamingOnlySpecColumnsWork() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let team = try connection.query("insert into conveyor.teams (name) values ('rail') returning id, time_zone, scan_local_time::text as at, paused")[0]
        let teamID = try team["id"].int64()
        #expect(try team["time_zone"].string() == "UTC")
        #expect(try team["at"].string() == "02:00:00")
        #expect(try team["paused"].bool() == false)

        let rep = try connection.query(
            "insert into conveyor.reps (team_id, ref, role) values ($1, 'ivan', 'closer') returning id, name, capacity, skills, active, away_until",
            [teamID])[0]
        let repID = try rep["id"].int64()
        #expect(try rep["name"].string() == "ivan")   // name defaults to ref
        #expect(try rep["capacity"].int() == 0)
        #expect(try rep["skills"].textArray() == [])
        #expect(try rep["active"].bool() == true)
        #expect(rep["away_until"].isNull)

        let account = try connection.query(
            "insert into conveyor.accounts (team_id, ref) values ($1, 'acme') returning id, name, stage, needs, value::text as value, hunter_id, owner_id, won_at",
            [teamID])[0]
        let accountID = try account["id"].int64()
        #expect(try account["name"].string() == "acme")
        #expect(try account["stage"].string() == "lead")
        #expect(try account["needs"].textArray() == [])
        #expect(try account["value"].string() == "0")
        #expect(account["hunter_id"].isNull && account["owner_id"].isNull && account["won_at"].isNull)

        let interaction = try connection.query(
            "insert into conveyor.interactions (account_id, rep_id, kind) values ($1, $2, 'call') returning occurred_at, contact",
            [accountID, repID])[0]
        #expect(abs(try interaction["occurred_at"].date().timeIntervalSinceNow) < 300)
        #expect(interaction["contact"].isNull)

        let deal = try connection.query(
            "insert into conveyor.deals (account_id, amount, margin) values ($1, 1000, -12.5) returning closed_at, rep_id",
            [accountID])[0]
        #expect(abs(try deal["closed_at"].date().timeIntervalSinceNow) < 300)

        let manager = try connection.query(
            "insert into conveyor.reps (team_id, ref, role) values ($1, 'olga', 'account_manager') returning id", [teamID])[0]["id"].int64()
        let handoff = try connection.query(
            "insert into conveyor.handoffs (account_id, to_rep_id, kind) values ($1, $2, 'manual') returning explanation::text as explanation, from_rep_id",
            [accountID, manager])[0]
        #expect(try handoff["explanation"].string() == "{}")
        #expect(handoff["from_rep_id"].isNull)

        let alert = try connection.query(
            "insert into conveyor.alerts (team_id, kind, severity) values ($1, 'no_eligible_manager', 'medium') returning status, first_seen_at, last_seen_at, resolved_at, details::text as details",
            [teamID])[0]
        #expect(try alert["status"].string() == "open")
        #expect(alert["resolved_at"].isNull)
        #expect(try alert["details"].string() == "{}")

        let job = try connection.query("insert into conveyor.jobs (kind) values ('probe') returning state, attempts, run_at, last_error")[0]
        #expect(try job["state"].string() == "available")
        #expect(try job["attempts"].int() == 0)
        #expect(abs(try job["run_at"].date().timeIntervalSinceNow) < 300)
        #expect(job["last_error"].isNull)
    }

    @Test func insertsNamingEverySpecColumnWork() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let teamID = try connection.query("""
            insert into conveyor.teams (name, time_zone, scan_local_time, paused)
            values ('sea', 'Europe/Berlin', '03:30', true) returning id
            """)[0]["id"].int64()
        let hunter = try connection.query("""
            insert into conveyor.reps (team_id, ref, name, role, capacity, skills, active, away_until)
            values ($1, 'ivan', 'Ivan Petrov', 'closer', 0, '{}', true, null) returning id
            """, [teamID])[0]["id"].int64()
        let manager = try connection.query("""
            insert into conveyor.reps (team_id, ref, name, role, capacity, skills, active, away_until)
            values ($1, 'olga', 'Olga', 'account_manager', 40, '{customs,rail}', true, now() + interval '1 day') returning id
            """, [teamID])[0]["id"].int64()
        let accountID = try connection.query("""
            insert into conveyor.accounts (team_id, ref, name, stage, needs, value, hunter_id, owner_id, won_at, handed_off_at)
            values ($1, 'acme', 'ACME', 'active', '{customs}', 5000.25, $2, $3, now() - interval '20 days', now() - interval '19 days')
            returning id
            """, [teamID, hunter, manager])[0]["id"].int64()
        try connection.query("""
            insert into conveyor.interactions (account_id, rep_id, occurred_at, kind, contact)
            values ($1, $2, now(), 'shipment', 'Mrs. Smith')
            """, [accountID, manager])
        try connection.query("""
            insert into conveyor.deals (account_id, rep_id, closed_at, amount, margin) values ($1, $2, now(), 100, 10)
            """, [accountID, manager])
        try connection.query("""
            insert into conveyor.handoffs (account_id, from_rep_id, to_rep_id, kind, created_at, explanation)
            values ($1, $2, $3, 'auto', now(), '{"rule": "lowest utilization"}')
            """, [accountID, hunter, manager])
        try connection.query("""
            insert into conveyor.alerts (team_id, account_id, rep_id, kind, severity, status, first_seen_at, last_seen_at, resolved_at, details)
            values ($1, $2, $3, 'single_threaded', 'high', 'acknowledged', now(), now(), null, '{"share": 0.9}')
            """, [teamID, accountID, manager])
        try connection.query("""
            insert into conveyor.jobs (kind, state, attempts, run_at, last_error) values ('probe', 'retryable', 3, now(), 'boom')
            """)
        for table in ["teams", "accounts", "interactions", "deals", "handoffs", "alerts", "jobs"] {
            #expect(try Self.count(connection, table) == 1, "conveyor.\(table)")
        }
        #expect(try Self.count(connection, "reps") == 2)
    }

    @Test func enumChecksAcceptTheSpecValuesAndRejectOthers() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let team = try connection.query("insert into conveyor.teams (name) values ('rail') returning id")[0]["id"].int64()
        for role in ["lead_generator", "closer", "account_manager"] {
            try connection.query("insert into conveyor.reps (team_id, ref, role) values ($1, $2, $2)", [team, role])
        }
        let rep = try connection.query("select id from conveyor.reps where ref = 'closer'")[0]["id"].int64()
        let manager = try connection.query("select id from conveyor.reps where ref = 'account_manager'")[0]["id"].int64()
        for stage in ["lead", "qualified", "won", "active", "churned"] {
            try connection.query("insert into conveyor.accounts (team_id, ref, stage) values ($1, $2, $2)", [team, stage])
        }
        let account = try connection.query("select id from conveyor.accounts where ref = 'won'")[0]["id"].int64()
        for severity in ["low", "medium", "high"] {
            for status in ["open", "acknowledged", "snoozed", "resolved"] {
                try connection.query(
                    "insert into conveyor.alerts (team_id, account_id, kind, severity, status) values ($1, $2, $3, $4, $5)",
                    [team, account, "\(severity)-\(status)", severity, status])
            }
        }
        for kind in ["auto", "manual", "redistribution"] {
            try connection.query("insert into conveyor.handoffs (account_id, to_rep_id, kind) values ($1, $2, $3)", [account, manager, kind])
        }
        for state in ["available", "running", "waiting", "succeeded", "retryable", "dead", "cancelled"] {
            try connection.query("insert into conveyor.jobs (kind, state) values ('probe', $1)", [state])
        }

        let rejected: [(what: String, sql: String, binds: [any PostgresBindable], column: String)] = [
            ("role ceo", "insert into conveyor.reps (team_id, ref, role) values ($1, 'boss', 'ceo')", [team], "role"),
            ("stage maybe", "insert into conveyor.accounts (team_id, ref, stage) values ($1, 'x', 'maybe')", [team], "stage"),
            ("severity extreme", "insert into conveyor.alerts (team_id, kind, severity) values ($1, 'k', 'extreme')", [team], "severity"),
            ("alert status done", "insert into conveyor.alerts (team_id, kind, severity, status) values ($1, 'k', 'low', 'done')", [team], "status"),
            ("handoff kind magic", "insert into conveyor.handoffs (account_id, to_rep_id, kind) values ($1, $2, 'magic')", [account, manager], "kind"),
            ("job state done", "insert into conveyor.jobs (kind, state) values ('probe', 'done')", [], "state"),
            ("role changed to ceo", "update conveyor.reps set role = 'ceo' where id = $1", [rep], "role"),
            ("upper-case stage", "update conveyor.accounts set stage = 'WON' where id = $1", [account], "stage"),
        ]
        for (what, sql, binds, column) in rejected {
            let error = Self.expectFailure("23514", what) { try connection.query(sql, binds) }
            #expect(error?.message.contains(column) == true, "\(what): the message names the constraint: \(String(describing: error))")
        }
        #expect(try Self.count(connection, "reps") == 3)
        #expect(try Self.count(connection, "accounts") == 5)
        #expect(try Self.count(connection, "alerts") == 12)
        #expect(try Self.count(connection, "handoffs") == 3)
        #expect(try Self.count(connection, "jobs") == 7)
        #expect(try connection.query("select role from conveyor.reps where id = $1", [rep])[0]["role"].string() == "closer")
    }

    @Test func uniquenessWithinTeams() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let rail = try connection.query("insert into conveyor.teams (name) values ('rail') returning id")[0]["id"].int64()
        let sea = try connection.query("insert into conveyor.teams (name) values ('sea') returning id")[0]["id"].int64()
        Self.expectFailure("23505", "a second team named rail") {
            try connection.query("insert into conveyor.teams (name) values ('rail')")
        }
        Self.expectFailure("23505", "renaming sea to rail") {
            try connection.query("update conveyor.teams set name = 'rail' where id = $1", [sea])
        }

        try connection.query("insert into conveyor.reps (team_id, ref, role) values ($1, 'ivan', 'closer')", [rail])
        // the same ref in another team is another person
        try connection.query("insert into conveyor.reps (team_id, ref, role) values ($1, 'ivan', 'closer')", [sea])
        let repError = Self.expectFailure("23505", "a second ivan in rail") {
            try connection.query("insert into conveyor.reps (team_id, ref, role) values ($1, 'ivan', 'account_manager')", [rail])
        }
        #expect(repError?.message.contains("reps") == true)

        try connection.query("insert into conveyor.accounts (team_id, ref) values ($1, 'acme')", [rail])
        try connection.query("insert into conveyor.accounts (team_id, ref) values ($1, 'acme')", [sea])
        Self.expectFailure("23505", "a second acme in rail") {
            try connection.query("insert into conveyor.accounts (team_id, ref) values ($1, 'acme')", [rail])
        }
        #expect(try Self.count(connection, "teams") == 2)
        #expect(try Self.count(connection, "reps") == 2)
        #expect(try Self.count(connection, "accounts") == 2)
    }

    /// An owner written by hand must be an account manager of the team, and
    /// a manager who owns active accounts cannot change role; refused in the
    /// writer's statement, which loses nothing else.
    @Test func anAccountsOwnerIsAlwaysAnAccountManager() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let team = try connection.query("insert into conveyor.teams (name) values ('rail') returning id")[0]["id"].int64()
        func rep(_ ref: String, _ role: String) throws -> Int64 {
            try connection.query(
                "insert into conveyor.reps (team_id, ref, role, capacity) values ($1, $2, $3, 5) returning id", [team, ref, role]
            )[0]["id"].int64()
        }
        let (ivan, olga, lena) = (try rep("ivan", "lead_generator"), try rep("olga", "lead_generator"), try rep("lena", "closer"))
        let (anna, boris) = (try rep("anna", "account_manager"), try rep("boris", "account_manager"))
        try connection.query("insert into conveyor.accounts (team_id, ref, hunter_id) values ($1, 'acme', $2), ($1, 'zeta', $2)", [team, ivan])
        for (hunter, role) in [(olga, "lead_generator"), (lena, "closer")] {
            let updated = Self.expectFailure("23514", "a \(role) as owner") {
                try connection.query("update conveyor.accounts set owner_id = $1 where ref = 'acme'", [hunter])
            }
            #expect(updated?.message == "account acme: owner \(role == "closer" ? "lena" : "olga") is a \(role), not an account manager")
            Self.expectFailure("23514", "an account inserted with a \(role) as owner") {
                try connection.query("insert into conveyor.accounts (team_id, ref, stage, owner_id) values ($1, 'new', 'active', $2)", [team, hunter])
            }
        }
        // One bad row refuses the whole statement: zeta, which was fine, is unchanged too.
        Self.expectFailure("23514", "a statement with one bad owner") {
            try connection.query("update conveyor.accounts set owner_id = case ref when 'acme' then $1::bigint else $2::bigint end, stage = 'active'", [lena, anna])
        }
        #expect(try connection.query("select count(*)::int as n from conveyor.accounts where owner_id is not null")[0]["n"].int() == 0)

        try connection.query("update conveyor.accounts set owner_id = $1, stage = 'active' where ref = 'acme'", [anna])
        let demoted = Self.expectFailure("23514", "demoting a manager who owns an active account") {
            try connection.query("update conveyor.reps set role = 'closer' where id = $1", [anna])
        }
        #expect(demoted?.message == "rep anna owns 1 active accounts and cannot become a closer", "\(String(describing: demoted))")
        try connection.query("update conveyor.reps set role = 'closer' where id = $1", [boris])
        // Other edits of an account go on; once it is moved, anna's role may change.
        try connection.query("update conveyor.accounts set name = 'ACME Rail', value = 10 where ref = 'acme'")
        try connection.query("update conveyor.accounts set stage = 'churned' where ref = 'acme'")
        try connection.query("update conveyor.reps set role = 'closer' where id = $1", [anna])
        #expect(try connection.query("select string_agg(role, ',' order by ref) as roles from conveyor.reps")[0]["roles"].string()
            == "closer,closer,lead_generator,closer,lead_generator")
        // Making the churned account active again checks its owner, now a closer.
        Self.expectFailure("23514", "reactivating an account whose owner is no longer a manager") {
            try connection.query("update conveyor.accounts set stage = 'active' where ref = 'acme'")
        }
    }

    @Test func teamTimeZonesMustBeKnownIANANames() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        for zone in ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Asia/Kolkata"] {
            try connection.query("insert into conveyor.teams (name, time_zone) values ($1, $1)", [zone])
        }
        for zone in ["Mars/Olympus_Mons", "", "europe/berlin ", "+03:00"] {
            let error = Self.expectFailure("22023", "time zone \"\(zone)\"") {
                try connection.query("insert into conveyor.teams (name, time_zone) values ($1, $2)", ["t-\(zone)", zone])
            }
            #expect(error?.message.contains("unknown time zone") == true, "\(String(describing: error))")
            #expect(error?.message.contains("\"\(zone)\"") == true, "names the value: \(String(describing: error))")
            #expect(error?.hint?.contains("IANA") == true)
        }
        Self.expectFailure("22023", "changing a team's zone to an unknown one") {
            try connection.query("update conveyor.teams set time_zone = 'Atlantis/Capital' where name = 'UTC'")
        }
        try connection.query("update conveyor.teams set time_zone = 'Asia/Tokyo' where name = 'UTC'")
        #expect(try Self.count(connection, "teams") == 4)
        #expect(try connection.query("select time_zone from conveyor.teams where name = 'UTC'")[0]["time_zone"].string() == "Asia/Tokyo")
    }

    @Test func theClaimQueryUsesTheClaimIndexesOnALargeQueue() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        try connection.execute("""
            insert into conveyor.teams (name) select 'team-' || g from generate_series(1, 20) as g;
            insert into conveyor.jobs (kind, state, attempts, run_at, created_at, attempted_at, finished_at, team_id)
            select 'probe', 'succeeded', 1, now() - make_interval(secs => g), now() - make_interval(secs => g),
                   now() - make_interval(secs => g), now() - make_interval(secs => g),
                   case when g % 2 = 0 then (select min(id) from conveyor.teams) end
            from generate_series(1, 200000) as g;
            insert into conveyor.jobs (kind, state, run_at, priority) values
                ('probe', 'available', now() - interval '1 minute', 0),
                ('probe', 'available', now() - interval '2 minutes', 0),
                ('probe', 'retryable', now() - interval '3 minutes', 0),
                ('probe', 'available', now() - interval '1 hour', 5),
                ('probe', 'available', now() + interval '1 hour', 0),
                ('probe', 'waiting', now() - interval '1 day', 0);
            analyze conveyor.jobs;
            """)

        let plan = try connection.query("explain " + Queries.claimJobs.sql, [100]).map { try $0[0].string() }.joined(separator: "\n")
        #expect(plan.contains("jobs_claim "), "the claim must use index jobs_claim:\n\(plan)")
        #expect(plan.contains("jobs_claim_team"), "a team's oldest job comes from index jobs_claim_team:\n\(plan)")
        #expect(!plan.contains("Seq Scan on jobs"), "the claim must not scan the jobs table:\n\(plan)")

        // and it claims the due jobs in order: priority, then oldest run_at
        let claimed = try connection.transaction {
            try connection.query(Queries.claimJobs, [100]).map { try $0["id"].int64() }
        }
        let expected = try connection.query("""
            select id from conveyor.jobs
            where state in ('available', 'retryable') and run_at <= now()
            order by priority, run_at, id
            """).map { try $0["id"].int64() }
        #expect(claimed.count == 4)
        #expect(claimed == expected)
    }

    /// A burst after a quiet spell: statistics say the queue is empty while
    /// 100,000 jobs are due. A worker's claim must still walk jobs_claim in
    /// order rather than sort every due job (30 to 60 ms per batch instead of 1).
    @Test func theClaimWalksItsIndexOnStaleStatistics() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        try connection.execute("""
            analyze conveyor.jobs;
            insert into conveyor.jobs (kind) select 'noop' from generate_series(1, 100000);
            set plan_cache_mode = force_generic_plan;
            """)
        try JobStore.tuneWorkerSession(connection)
        try connection.execute("prepare claim(int) as " + Queries.claimJobs.sql)
        let plan = try connection.query("explain execute claim(1000)").map { try $0[0].string() }.joined(separator: "\n")
        #expect(plan.contains("Index Scan using jobs_claim on jobs"), "\(plan)")
        #expect(!plan.contains("Sort Key: jobs.priority") && !plan.contains("Bitmap Heap Scan on jobs"), "\(plan)")
    }

    /// conveyor.tags_ok backs the skills and needs constraints: an
    /// integration writing lists by plain SQL gets the same refusals as
    /// the admin commands, and a good list of any allowed size passes.
    @Test func tagListsWrittenBySQLAreCheckedByTheirConstraints() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let team = try connection.query("insert into conveyor.teams (name) values ('rail') returning id")[0]["id"].int64()
        let long = String(repeating: "x", count: 100)
        let accepted: [String] = ["{}", "{customs}", "{\"\(long)\"}", "[0:1]={a,b}",
                                  "{" + (1...50).map { "n\($0)" }.joined(separator: ",") + "}"]
        for (n, list) in accepted.enumerated() {
            try connection.query("insert into conveyor.accounts (team_id, ref, needs) values ($1, $2, $3::text[])", [team, "ok-\(n)", list])
        }
        let hundredSkills = "{" + (1...100).map { "s\($0)" }.joined(separator: ",") + "}"
        try connection.query("insert into conveyor.reps (team_id, ref, role, skills) values ($1, 'anna', 'account_manager', $2::text[])", [team, hundredSkills])

        let refused: [(what: String, list: String)] = [
            ("a NULL tag", "{a,NULL}"), ("a blank tag", "{\"  \"}"), ("a tab-only tag", "{\"\t\"}"),
            ("a 101-character tag", "{\"\(long)x\"}"), ("two dimensions", "{{a},{b}}"),
            ("51 needs", "{" + (1...51).map { "n\($0)" }.joined(separator: ",") + "}"),
        ]
        for (what, list) in refused {
            let error = Self.expectFailure("23514", what) {
                try connection.query("update conveyor.accounts set needs = $1::text[] where ref = 'ok-0'", [list])
            }
            #expect(error?.message.contains("accounts_needs_check") == true, "\(what): \(String(describing: error))")
        }
        Self.expectFailure("23514", "101 skills") {
            try connection.query("update conveyor.reps set skills = skills || 's101'::text where ref = 'anna'")
        }
        #expect(try connection.query("select needs from conveyor.accounts where ref = 'ok-0'")[0]["needs"].textArray() == [])
    }

    /// A single win's handoff is planned once per connection (the generic
    /// plan): it must find the account by its key, not read every account
    /// of the table. The moves' row estimate decides; a join of the arrays
    /// with the split explanations was expected to give 50 rows, enough for
    /// a sequential scan of 3,000 accounts on every win.
    @Test func theGenericPlanOfAHandoffFindsItsAccountByKey() throws {
        let world = try HandoffWorld()
        let anna = try world.addManager("anna", capacity: 5)
        try world.db.execute("""
            insert into conveyor.accounts (team_id, ref) select \(world.teamId), 'lead-' || g from generate_series(1, 3000) as g;
            analyze conveyor.accounts;
            set plan_cache_mode = force_generic_plan;
            prepare apply(bigint[], bigint[], bigint[], text, text, bigint, bigint, text, bigint, integer) as
            """ + Queries.applyHandoffs.sql)
        let account = try world.db.query("select min(id) as id from conveyor.accounts")[0]["id"].int64()
        let plan = try world.db.query(
            "explain execute apply(array[\(account)], array[null::bigint], array[\(anna)], '{}', 'auto', null, \(world.teamId), null, 0, 0)"
        ).map { try $0[0].string() }.joined(separator: "\n")
        #expect(plan.contains("Index Scan using accounts_pkey on accounts"), "\(plan)")
        #expect(!plan.contains("Seq Scan on accounts"), "\(plan)")
    }

    /// The statements of a single win's batch that take an array of ids are
    /// planned once per connection: compared with the array as a parameter,
    /// an array of one always beat the generic plan, and every call planned
    /// afresh (about 0.12 ms of a single win).
    @Test func aSingleWinsStatementsByIdKeepOnePlan() throws {
        let world = try HandoffWorld()
        let account = try world.db.query(
            "insert into conveyor.accounts (team_id, ref) values (\(world.teamId), 'lead') returning id")[0]["id"].int64()
        let job = try world.db.query("insert into conveyor.jobs (kind) values ('probe') returning id")[0]["id"].int64()
        let ids: [Int64] = [account], jobIds: [Int64] = [job]
        for _ in 0..<10 {
            #expect(try HandoffRouter.accounts(world.db, ids: ids).keys.sorted() == ids)
            try world.db.query(Queries.completeJobs, [jobIds])
        }
        for query in [Queries.routingAccounts, Queries.completeJobs] {
            let plans = try world.db.query(
                "select generic_plans, custom_plans from pg_prepared_statements where statement = $1", [query.sql])
            #expect(plans.count == 1, "\(query.sql)")
            for row in plans {
                let generic = try row["generic_plans"].int(), custom = try row["custom_plans"].int()
                #expect(generic >= 5 && custom <= 5, "\(generic) generic and \(custom) custom plans of \(query.sql)")
            }
        }
    }

    /// A batch takes one team's jobs (and any without a team), so that two
    /// workers claiming at once take different teams and never queue on one
    /// team's routing lock.
    @Test func concurrentClaimsTakeDifferentTeams() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let first = try TestPostgres.connect(conninfo), second = try TestPostgres.connect(conninfo)
        try first.execute("""
            insert into conveyor.teams (name) values ('older'), ('newer');
            insert into conveyor.jobs (kind, team_id, run_at)
            select 'probe', t.id, now() - make_interval(secs => 100 - g) - case t.name when 'older' then interval '1 hour' else interval '0' end
            from conveyor.teams t cross join generate_series(1, 5) as g;
            insert into conveyor.jobs (kind, run_at) values ('probe', now() - interval '1 minute');
            """)
        let teamOf = Dictionary(uniqueKeysWithValues: try first.query("select id, name from conveyor.teams").map {
            (try $0["id"].int64(), try $0["name"].string())
        })
        func claimedTeams(_ connection: PostgresConnection) throws -> [String?] {
            try connection.query(Queries.claimJobs, [100]).map { try $0["team_id"].optionalInt64().map { teamOf[$0]! } }
        }

        try first.execute("begin")
        let firstBatch = try claimedTeams(first)
        // The team whose oldest due job comes first, plus the job without a team.
        #expect(firstBatch.filter { $0 == "older" }.count == 5 && firstBatch.count == 6, "\(firstBatch)")
        try second.execute("begin")
        let secondBatch = try claimedTeams(second)
        #expect(secondBatch == Array(repeating: "newer", count: 5), "the other team, without waiting: \(secondBatch)")
        try second.execute("rollback")
        try first.execute("rollback")

        // With the first team's lock held by a router, a claim takes the other team.
        try first.execute("begin")
        let olderId = teamOf.first { $0.value == "older" }!.key
        try first.query("select 1 from conveyor.routing_epochs where team_id = $1 for update", [olderId])
        try second.execute("begin")
        #expect(try claimedTeams(second).filter { $0 != nil } == Array(repeating: "newer", count: 5))
        try second.execute("rollback")
        try first.execute("rollback")
    }
}
