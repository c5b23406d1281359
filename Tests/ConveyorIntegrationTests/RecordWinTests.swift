import ConveyorPostgres
import Foundation
import Testing

/// conveyor.record_win (docs/sql.md "conveyor.record_win", SQL/002_record_win.sql).
@Suite struct RecordWinTests {
    static let call = "select conveyor.record_win($1::text, $2::text, $3::text, $4::text, $5::text[], $6::numeric) as job_id"

    /// A database with team `rail` (closer ivan, lead_generator lena,
    /// account_manager olga) and team `sea` (closer pavel).
    struct Fixture {
        let conninfo: String
        let connection: PostgresConnection
        let rail: Int64
        let sea: Int64
        let ivan: Int64
        let lena: Int64

        init() throws {
            conninfo = try TestPostgres.makeDatabase()
            connection = try TestPostgres.connect(conninfo)
            rail = try connection.query("insert into conveyor.teams (name, time_zone) values ('rail', 'Europe/Berlin') returning id")[0]["id"].int64()
            sea = try connection.query("insert into conveyor.teams (name) values ('sea') returning id")[0]["id"].int64()
            ivan = try connection.query("insert into conveyor.reps (team_id, ref, role) values ($1, 'ivan', 'closer') returning id", [rail])[0]["id"].int64()
            lena = try connection.query("insert into conveyor.reps (team_id, ref, role) values ($1, 'lena', 'lead_generator') returning id", [rail])[0]["id"].int64()
            try connection.query("insert into conveyor.reps (team_id, ref, role, capacity) values ($1, 'olga', 'account_manager', 40)", [rail])
            try connection.query("insert into conveyor.reps (team_id, ref, role) values ($1, 'pavel', 'closer')", [sea])
        }

        @discardableResult
        func win(
            _ team: String?, _ ref: String?, _ hunter: String?, name: String? = nil, needs: [String?] = [], value: String? = "0",
            on connection: PostgresConnection? = nil
        ) throws -> Int64 {
            try (connection ?? self.connection).query(RecordWinTests.call, [team, ref, hunter, name, needs, value])[0]["job_id"].int64()
        }

        func count(_ table: String) throws -> Int {
            try connection.query("select count(*) as n from conveyor.\(table)")[0]["n"].int()
        }

        /// Every column of the team's accounts and of all jobs, as text: equal snapshots mean nothing changed.
        func snapshot() throws -> String {
            try connection.query("""
                select coalesce((select string_agg(a::text, E'\\n' order by a.id) from conveyor.accounts as a), '')
                    || E'\\n--\\n' || coalesce((select string_agg(j::text, E'\\n' order by j.id) from conveyor.jobs as j), '')
                    || E'\\n--\\n' || (select string_agg(e::text, E'\\n' order by e.team_id) from conveyor.routing_epochs as e)
                    as state
                """)[0]["state"].string()
        }
    }

    @Test func aWinCreatesTheWonAccountAndItsHandoffJob() throws {
        let fixture = try Fixture()
        let connection = fixture.connection
        let jobID = try fixture.win("rail", "acme", "ivan", name: "ACME Freight GmbH", needs: ["customs", "rail"], value: "125000.50")

        let account = try connection.query("""
            select id, team_id, name, stage, needs, value::text as value, hunter_id, owner_id, handed_off_at,
                   won_at, now() - won_at < interval '1 minute' as won_recently
            from conveyor.accounts where ref = 'acme'
            """)
        #expect(account.count == 1)
        let row = try account[0]
        let accountID = try row["id"].int64()
        #expect(try row["team_id"].int64() == fixture.rail)
        #expect(try row["name"].string() == "ACME Freight GmbH")
        #expect(try row["stage"].string() == "won")
        #expect(try row["needs"].textArray() == ["customs", "rail"])
        #expect(try row["value"].string() == "125000.50")
        #expect(try row["hunter_id"].int64() == fixture.ivan)
        #expect(row["owner_id"].isNull)
        #expect(row["handed_off_at"].isNull)
        #expect(try row["won_recently"].bool())

        let jobs = try connection.query("""
            select id, kind, state, attempts, payload->>'account_id' as account_id, unique_key, run_at <= now() as due
            from conveyor.jobs
            """)
        #expect(jobs.count == 1)
        let job = try jobs[0]
        #expect(try job["id"].int64() == jobID)
        #expect(try job["kind"].string() == "handoff")
        #expect(try job["state"].string() == "available")
        #expect(try job["attempts"].int() == 0)
        #expect(try job["account_id"].string() == String(accountID))
        #expect(try job["unique_key"].string() == "handoff:\(accountID)")
        #expect(try job["due"].bool())

        // no name: the ref; the defaults of needs and value
        try fixture.win("rail", "globex", "lena")
        let globex = try connection.query("select name, needs, value::text as value, hunter_id from conveyor.accounts where ref = 'globex'")[0]
        #expect(try globex["name"].string() == "globex")
        #expect(try globex["needs"].textArray() == [])
        #expect(try globex["value"].string() == "0")
        #expect(try globex["hunter_id"].int64() == fixture.lena)
        // and through the declared defaults, naming only the three required arguments
        let defaulted = try connection.query("select conveyor.record_win('rail', 'initech', 'ivan') as job_id")[0]["job_id"].int64()
        #expect(try connection.query("select count(*) as n from conveyor.jobs where id = $1 and kind = 'handoff'", [defaulted])[0]["n"].int() == 1)
        #expect(try fixture.count("accounts") == 3)
        #expect(try fixture.count("jobs") == 3)
    }

    @Test func aSecondWinReturnsTheSameJobAndChangesNothing() throws {
        let fixture = try Fixture()
        let first = try fixture.win("rail", "acme", "ivan", name: "ACME", needs: ["customs"], value: "100")
        let before = try fixture.snapshot()

        // the same call again, and one with everything different
        #expect(try fixture.win("rail", "acme", "ivan", name: "ACME", needs: ["customs"], value: "100") == first)
        #expect(try fixture.win("rail", "acme", "lena", name: "Other", needs: ["sea"], value: "999") == first)

        #expect(try fixture.snapshot() == before)   // updated_at, won_at, hunter, name, needs, value, job untouched
        #expect(try fixture.count("accounts") == 1)
        #expect(try fixture.count("jobs") == 1)

        // still the same job after it ran and was pruned from the queue
        try fixture.connection.query("delete from conveyor.jobs where id = $1", [first])
        #expect(try fixture.win("rail", "acme", "ivan") == first)
        #expect(try fixture.count("jobs") == 0)
        // the same ref in another team is another account
        #expect(try fixture.win("sea", "acme", "pavel") != first)
        #expect(try fixture.count("accounts") == 2)
    }

    @Test func aWinUpgradesAnExistingLeadAccount() throws {
        let fixture = try Fixture()
        let connection = fixture.connection
        let leadID = try connection.query("""
            insert into conveyor.accounts (team_id, ref, name, needs, value) values ($1, 'acme', 'ACME (lead)', '{rail}', 10)
            returning id
            """, [fixture.rail])[0]["id"].int64()
        let qualifiedID = try connection.query("""
            insert into conveyor.accounts (team_id, ref, stage) values ($1, 'globex', 'qualified') returning id
            """, [fixture.rail])[0]["id"].int64()

        let jobID = try fixture.win("rail", "acme", "ivan", needs: ["customs"], value: "500")
        let acme = try connection.query("""
            select id, name, stage, needs, value::text as value, hunter_id, won_at is not null as won, updated_at > created_at as touched
            from conveyor.accounts where ref = 'acme'
            """)[0]
        #expect(try acme["id"].int64() == leadID)                  // the same account, not a new one
        #expect(try acme["name"].string() == "ACME (lead)")        // no name given: kept
        #expect(try acme["stage"].string() == "won")
        #expect(try acme["needs"].textArray() == ["customs"])
        #expect(try acme["value"].string() == "500")
        #expect(try acme["hunter_id"].int64() == fixture.ivan)
        #expect(try acme["won"].bool())
        let job = try connection.query("select payload->>'account_id' as account_id, unique_key from conveyor.jobs where id = $1", [jobID])
        #expect(try job[0]["account_id"].string() == String(leadID))
        #expect(try job[0]["unique_key"].string() == "handoff:\(leadID)")

        let globexJob = try fixture.win("rail", "globex", "lena", name: "Globex Corp")
        let globex = try connection.query("select id, name, stage, hunter_id from conveyor.accounts where ref = 'globex'")[0]
        #expect(try globex["id"].int64() == qualifiedID)
        #expect(try globex["name"].string() == "Globex Corp")
        #expect(try globex["stage"].string() == "won")
        #expect(try globex["hunter_id"].int64() == fixture.lena)
        #expect(globexJob != jobID)

        #expect(try fixture.count("accounts") == 2)
        #expect(try fixture.count("jobs") == 2)
        // and from now on it is idempotent like any other win
        #expect(try fixture.win("rail", "acme", "lena") == jobID)
    }

    @Test func aWinIsAtomicWithTheCallersTransaction() throws {
        let fixture = try Fixture()
        let connection = fixture.connection
        let other = try TestPostgres.connect(fixture.conninfo)

        try connection.execute("BEGIN")
        let rolledBack = try fixture.win("rail", "acme", "ivan", name: "ACME")
        // visible to the caller, invisible to everyone else until commit
        #expect(try connection.query("select count(*) as n from conveyor.jobs where id = $1", [rolledBack])[0]["n"].int() == 1)
        #expect(try other.query("select count(*) as n from conveyor.accounts")[0]["n"].int() == 0)
        #expect(try other.query("select count(*) as n from conveyor.jobs")[0]["n"].int() == 0)
        try connection.execute("ROLLBACK")
        #expect(try fixture.count("accounts") == 0)
        #expect(try fixture.count("jobs") == 0)

        // a later failure in the caller's transaction takes the win with it
        struct CallerFailed: Error {}
        #expect(throws: CallerFailed.self) {
            try connection.transaction {
                try fixture.win("rail", "acme", "ivan")
                throw CallerFailed()
            }
        }
        #expect(try fixture.count("accounts") == 0)
        #expect(try fixture.count("jobs") == 0)

        // committed with the caller's other writes
        let committed = try connection.transaction { () throws -> Int64 in
            let job = try fixture.win("rail", "acme", "ivan")
            try connection.query("insert into conveyor.interactions (account_id, rep_id, kind) select id, $1, 'meeting' from conveyor.accounts where ref = 'acme'", [fixture.ivan])
            return job
        }
        #expect(try other.query("select count(*) as n from conveyor.jobs where id = $1", [committed])[0]["n"].int() == 1)
        #expect(try other.query("select count(*) as n from conveyor.interactions")[0]["n"].int() == 1)
        #expect(try fixture.count("accounts") == 1)
    }

    @Test func theWakeUpIsDeliveredOnlyAtCommit() throws {
        let fixture = try Fixture()
        let connection = fixture.connection
        let listener = try TestPostgres.connect(fixture.conninfo)
        try listener.listen("conveyor_jobs")

        try connection.execute("BEGIN")
        try fixture.win("rail", "acme", "ivan")
        #expect(try listener.waitForNotifications(timeout: 0.3).isEmpty, "nothing before commit")
        try connection.execute("COMMIT")
        let received = try listener.waitForNotifications(timeout: 30)
        #expect(received.count == 1)
        #expect(received.first?.channel == "conveyor_jobs")
        #expect(received.first?.senderPID == connection.backendPID)

        // a rolled-back win sends nothing
        try connection.execute("BEGIN")
        try fixture.win("rail", "globex", "ivan")
        try connection.execute("ROLLBACK")
        #expect(try listener.waitForNotifications(timeout: 0.3).isEmpty, "nothing after rollback")

        // a repeated win enqueues nothing, so it wakes nobody
        try fixture.win("rail", "acme", "ivan")
        #expect(try listener.waitForNotifications(timeout: 0.3).isEmpty, "nothing for a no-op")
    }

    struct BadCall: CustomStringConvertible, Sendable {
        let description: String
        let team: String?
        let ref: String?
        let hunter: String?
        var name: String? = nil
        var needs: [String?] = []
        var value: String? = "0"
        let sqlState: String
        let mentions: [String]
    }

    static let badCalls: [BadCall] = [
        BadCall(description: "unknown team", team: "nope", ref: "acme", hunter: "ivan", sqlState: "23503", mentions: ["unknown team", "\"nope\""]),
        BadCall(description: "unknown hunter", team: "rail", ref: "acme", hunter: "ghost", sqlState: "23503", mentions: ["unknown hunter", "\"ghost\"", "\"rail\""]),
        BadCall(description: "hunter of another team", team: "rail", ref: "acme", hunter: "pavel", sqlState: "23503", mentions: ["unknown hunter", "\"pavel\""]),
        BadCall(description: "account manager as hunter", team: "rail", ref: "acme", hunter: "olga", sqlState: "22023", mentions: ["\"olga\"", "account manager"]),
        BadCall(description: "null team", team: nil, ref: "acme", hunter: "ivan", sqlState: "22004", mentions: ["team must not be null"]),
        BadCall(description: "null account_ref", team: "rail", ref: nil, hunter: "ivan", sqlState: "22004", mentions: ["account_ref must not be null"]),
        BadCall(description: "null hunter_ref", team: "rail", ref: "acme", hunter: nil, sqlState: "22004", mentions: ["hunter_ref must not be null"]),
        BadCall(description: "empty ref", team: "rail", ref: "", hunter: "ivan", sqlState: "22023", mentions: ["account_ref", "blank"]),
        BadCall(description: "blank ref", team: "rail", ref: "   ", hunter: "ivan", sqlState: "22023", mentions: ["account_ref", "blank"]),
        BadCall(description: "whitespace-only ref (tab, newline)", team: "rail", ref: " \t\n ", hunter: "ivan", sqlState: "22023", mentions: ["account_ref", "blank"]),
        BadCall(description: "201-character ref", team: "rail", ref: String(repeating: "r", count: 201), hunter: "ivan", sqlState: "22023", mentions: ["account_ref", "too long", "201"]),
        BadCall(description: "1 MB name", team: "rail", ref: "acme", hunter: "ivan", name: String(repeating: "n", count: 1 << 20), sqlState: "22001", mentions: ["account_name", "too long"]),
        BadCall(description: "1001-character name", team: "rail", ref: "acme", hunter: "ivan", name: String(repeating: "é", count: 1001), sqlState: "22001", mentions: ["account_name", "1001"]),
        BadCall(description: "negative value", team: "rail", ref: "acme", hunter: "ivan", value: "-0.01", sqlState: "22023", mentions: ["value", "-0.01"]),
        BadCall(description: "NaN value", team: "rail", ref: "acme", hunter: "ivan", value: "NaN", sqlState: "22023", mentions: ["value", "NaN"]),
        BadCall(description: "infinite value", team: "rail", ref: "acme", hunter: "ivan", value: "Infinity", sqlState: "22023", mentions: ["value"]),
        BadCall(description: "null need", team: "rail", ref: "acme", hunter: "ivan", needs: ["customs", nil], sqlState: "22023", mentions: ["needs", "null"]),
        BadCall(description: "empty need", team: "rail", ref: "acme", hunter: "ivan", needs: [""], sqlState: "22023", mentions: ["needs", "blank"]),
        BadCall(description: "blank need", team: "rail", ref: "acme", hunter: "ivan", needs: ["customs", "   "], sqlState: "22023", mentions: ["needs", "blank"]),
        BadCall(description: "whitespace-only need (tab)", team: "rail", ref: "acme", hunter: "ivan", needs: ["\t"], sqlState: "22023", mentions: ["needs", "blank"]),
        BadCall(description: "51 needs", team: "rail", ref: "acme", hunter: "ivan", needs: (1...51).map { "skill\($0)" }, sqlState: "22023", mentions: ["too many needs", "51"]),
        BadCall(description: "101-character need", team: "rail", ref: "acme", hunter: "ivan", needs: [String(repeating: "s", count: 101)], sqlState: "22023", mentions: ["too long"]),
    ]

    @Test(arguments: badCalls)
    func aBadCallWritesNothingAndSaysWhy(_ bad: BadCall) throws {
        let fixture = try Fixture()
        // the ref exists as a lead: a failed call must not touch it either
        try fixture.connection.query("insert into conveyor.accounts (team_id, ref, name, value) values ($1, 'acme', 'ACME', 7)", [fixture.rail])
        let before = try fixture.snapshot()

        do {
            let job = try fixture.win(bad.team, bad.ref, bad.hunter, name: bad.name, needs: bad.needs, value: bad.value)
            Issue.record("\(bad) must fail with SQLSTATE \(bad.sqlState), returned job \(job)")
        } catch let error as PostgresError {
            #expect(error.sqlState == bad.sqlState, "\(bad): \(error)")
            #expect(error.message.hasPrefix("record_win: "), "\(bad): \(error)")
            for word in bad.mentions {
                #expect(error.message.contains(word), "\(bad): the message should mention \(word): \(error)")
            }
            #expect(error.message.count < 400, "\(bad): the message stays short (\(error.message.count) characters)")
        }
        #expect(try fixture.snapshot() == before, "\(bad) changed the database")
        #expect(!fixture.connection.inTransaction)
    }

    @Test func aTwoDimensionalNeedsArrayIsRefused() throws {
        let fixture = try Fixture()
        do {
            try fixture.connection.query(Self.call, ["rail", "acme", "ivan", String?.none, "{{a,b},{c,d}}", "0"])
            Issue.record("a two-dimensional needs array must be refused")
        } catch let error as PostgresError {
            #expect(error.sqlState == "22023", "\(error)")
            #expect(error.message.contains("one-dimensional"), "\(error)")
        }
        #expect(try fixture.count("accounts") == 0)
        #expect(try fixture.count("jobs") == 0)
    }

    @Test func theLimitsThemselvesAreAccepted() throws {
        let fixture = try Fixture()
        let ref = String(repeating: "r", count: 200)
        let name = String(repeating: "ü", count: 1000)
        let needs = (1...50).map { String(repeating: "x", count: 98) + String(format: "%02d", $0) }
        let job = try fixture.win("rail", ref, "ivan", name: name, needs: needs, value: "99999999999999999999.123456789")
        let row = try fixture.connection.query(
            "select name, needs, value::text as value, handoff_job_id from conveyor.accounts where ref = $1", [ref])[0]
        #expect(try row["name"].string() == name)
        #expect(try row["needs"].textArray() == needs)
        #expect(try row["value"].string() == "99999999999999999999.123456789")
        // blank name counts as not given; null needs and null value are the defaults
        try fixture.win("rail", "blank-name", "ivan", name: "   ", value: nil)
        let blank = try fixture.connection.query(
            "select name, value::text as value from conveyor.accounts where ref = 'blank-name'")[0]
        #expect(try blank["name"].string() == "blank-name")
        #expect(try blank["value"].string() == "0")
        #expect(job > 0)
    }

    @Test func hostileStringsAreStoredVerbatim() throws {
        let fixture = try Fixture()
        let connection = fixture.connection
        let team = "Rail \"Nord\" O'Brien; drop table conveyor.accounts; --"
        let hunter = "ivan'); delete from conveyor.jobs; --"
        let ref = "'; drop table conveyor.jobs; --"
        let name = "Ünïcødé Fräight 🚚📦 \"quoted\" back\\slash $1 %s % 'single' \u{200B}zero-width مرحبا 你好"
        let needs = ["zoll 🇩🇪", "a,b", "{x}", "\"q\"", "NULL", "back\\slash", "semi;colon'--"]
        let teamID = try connection.query("insert into conveyor.teams (name) values ($1) returning id", [team])[0]["id"].int64()
        try connection.query("insert into conveyor.reps (team_id, ref, role) values ($1, $2, 'closer')", [teamID, hunter])

        let job = try fixture.win(team, ref, hunter, name: name, needs: needs.map { $0 }, value: "1")
        let row = try connection.query("""
            select a.ref, a.name, a.needs, t.name as team, r.ref as hunter
            from conveyor.accounts as a join conveyor.teams as t on t.id = a.team_id join conveyor.reps as r on r.id = a.hunter_id
            where a.handoff_job_id = $1
            """, [job])
        #expect(row.count == 1)
        #expect(try row[0]["ref"].string() == ref)
        #expect(try row[0]["name"].string() == name)
        #expect(try row[0]["needs"].textArray() == needs)
        #expect(try row[0]["team"].string() == team)
        #expect(try row[0]["hunter"].string() == hunter)
        #expect(try fixture.win(team, ref, hunter) == job)

        // an unknown hostile name comes back quoted in the message, and does nothing
        let weird = "100% %s %I '; select pg_sleep(10); --"
        do {
            try fixture.win(weird, "x", "ivan")
            Issue.record("an unknown team must fail")
        } catch let error as PostgresError {
            #expect(error.sqlState == "23503")
            #expect(error.message == "record_win: unknown team \"\(weird)\"")
        }
        for table in ["teams", "reps", "accounts", "jobs"] {
            #expect(try connection.query("select to_regclass($1) is not null as present", ["conveyor.\(table)"])[0]["present"].bool())
        }
        #expect(try fixture.count("accounts") == 1)
        #expect(try fixture.count("jobs") == 1)
    }

    /// 20 connections on 20 threads all call record_win for one ref at the
    /// same moment: held at the accounts table by a SHARE lock until every
    /// one of them waits there, then released together.
    @Test(arguments: [false, true])
    func concurrentWinsForOneRefMakeOneAccountAndOneJob(existingLead: Bool) throws {
        let fixture = try Fixture()
        let connection = fixture.connection
        if existingLead {
            try connection.query("insert into conveyor.accounts (team_id, ref) values ($1, 'acme')", [fixture.rail])
        }
        let conninfo = fixture.conninfo
        let callers = 20
        let gate = try TestPostgres.connect(conninfo)
        try gate.execute("BEGIN; LOCK TABLE conveyor.accounts IN SHARE MODE")

        let results = TestPostgres.onThreads(callers, connect: { try TestPostgres.connect(conninfo) }, whileRunning: {
            // release the callers whatever happens, or they would wait forever
            defer { try? gate.execute("COMMIT") }
            let deadline = Date().addingTimeInterval(30)
            var waiting = 0
            do {
                while Date() < deadline {
                    waiting = try connection.query("""
                        select count(*) as n from pg_stat_activity
                        where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()
                        """)[0]["n"].int()
                    if waiting >= callers { break }
                    usleep(10_000)
                }
            } catch {
                Issue.record("watching the callers failed: \(error)")
            }
            #expect(waiting == callers, "all callers should be waiting at the gate together")
        }) { index, caller in
            try caller.query(RecordWinTests.call, ["rail", "acme", index.isMultiple(of: 2) ? "ivan" : "lena", "ACME \(index)", ["customs"], "\(index)"])[0]["job_id"].int64()
        }

        var ids: Set<Int64> = []
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let id): ids.insert(id)
            case .failure(let error): Issue.record("caller \(index) failed: \(error)")
            }
        }
        #expect(ids.count == 1, "every caller gets the same job id: \(ids.sorted())")
        #expect(try fixture.count("accounts") == 1)
        let jobs = try connection.query("select id, unique_key, (select id from conveyor.accounts) as account_id from conveyor.jobs")
        #expect(jobs.count == 1)
        #expect(try jobs[0]["unique_key"].string() == "handoff:\(try jobs[0]["account_id"].int64())")
        #expect(try ids.first == jobs[0]["id"].int64())
        let account = try connection.query("select stage, handoff_job_id from conveyor.accounts")[0]
        #expect(try account["stage"].string() == "won")
        #expect(try account["handoff_job_id"].int64() == jobs[0]["id"].int64())
    }
}
