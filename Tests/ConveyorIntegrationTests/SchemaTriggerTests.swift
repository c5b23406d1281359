import ConveyorPostgres
import Foundation
import Testing

/// What the schema's triggers keep true, whoever writes the tables: rep
/// loads (007), the reps handoffs name (008), names and updated_at (006).
@Suite struct SchemaTriggerTests {
    /// A database with team `t`, account managers `anna` and `boris` and hunter `hugo`.
    static func team() throws -> PostgresConnection {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        try connection.execute("""
            insert into conveyor.teams (name) values ('t');
            insert into conveyor.reps (team_id, ref, role, capacity)
            select id, ref, role, 10 from conveyor.teams,
                   (values ('anna', 'account_manager'), ('boris', 'account_manager'), ('hugo', 'closer')) as r(ref, role);
            """)
        return connection
    }

    /// rep_loads as ref → owned, and the same counted from accounts.
    static func loads(_ connection: PostgresConnection) throws -> (kept: [String: Int], counted: [String: Int]) {
        let rows = try connection.query("""
            select r.ref, coalesce(l.owned, 0) as kept,
                   (select count(*) from conveyor.accounts a where a.owner_id = r.id and a.stage = 'active')::int as counted
            from conveyor.reps r left join conveyor.rep_loads l on l.rep_id = r.id
            """)
        var kept: [String: Int] = [:], counted: [String: Int] = [:]
        for row in rows {
            kept[try row["ref"].string()] = try row["kept"].int()
            counted[try row["ref"].string()] = try row["counted"].int()
        }
        return (kept, counted)
    }

    @Test func repLoadsFollowEveryWriteToAccounts() throws {
        let db = try Self.team()
        func expectLoads(_ anna: Int, _ boris: Int, _ step: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let (kept, counted) = try Self.loads(db)
            #expect(kept == counted, "\(step): kept \(kept), counted \(counted)", sourceLocation: sourceLocation)
            #expect(kept["anna"] == anna && kept["boris"] == boris && kept["hugo"] == 0, "\(step): \(kept)", sourceLocation: sourceLocation)
        }
        try expectLoads(0, 0, "no accounts")
        try db.execute("""
            insert into conveyor.accounts (team_id, ref, stage, owner_id)
            select t.id, 'acc-' || g, case when g <= 4 then 'active' else 'won' end, r.id
            from conveyor.teams t join conveyor.reps r on r.team_id = t.id and r.ref = 'anna', generate_series(1, 6) as g
            """)
        try expectLoads(4, 0, "inserted: 4 active, 2 won")
        try db.execute("update conveyor.accounts set stage = 'active' where ref = 'acc-5'")
        try expectLoads(5, 0, "won to active")
        try db.execute("update conveyor.accounts set owner_id = (select id from conveyor.reps where ref = 'boris') where ref in ('acc-1', 'acc-2', 'acc-6')")
        try expectLoads(3, 2, "moved to boris (acc-6 is still won)")
        try db.execute("update conveyor.accounts set stage = 'churned' where ref = 'acc-3'")
        try expectLoads(2, 2, "churned")
        try db.execute("update conveyor.accounts set name = 'renamed'")
        try expectLoads(2, 2, "a change that moves nothing")
        try db.execute("delete from conveyor.accounts where ref = 'acc-1'")
        try expectLoads(2, 1, "deleted")
        try db.execute("begin; update conveyor.accounts set owner_id = null, stage = 'won'; rollback")
        try expectLoads(2, 1, "rolled back")
        try db.execute("truncate conveyor.accounts cascade")
        try expectLoads(0, 0, "truncated")
        // A team deleted with its reps and owned accounts leaves nothing behind.
        try db.execute("""
            insert into conveyor.accounts (team_id, ref, stage, owner_id)
            select team_id, 'x', 'active', id from conveyor.reps where ref = 'anna';
            delete from conveyor.teams;
            """)
        #expect(try db.query("select count(*)::int as n from conveyor.rep_loads")[0]["n"].int() == 0)
    }

    @Test func handoffsMustNameExistingRepsAndKeepThem() throws {
        let db = try Self.team()
        try db.execute("""
            insert into conveyor.accounts (team_id, ref, stage, hunter_id, owner_id)
            select t.id, 'acc', 'active', (select id from conveyor.reps where ref = 'hugo'), (select id from conveyor.reps where ref = 'anna')
            from conveyor.teams t;
            insert into conveyor.handoffs (account_id, from_rep_id, to_rep_id, kind)
            select a.id, a.hunter_id, a.owner_id, 'auto' from conveyor.accounts a;
            """)
        let missing = try db.query("select max(id) + 1000 as id from conveyor.reps")[0]["id"].int64()
        SchemaTests.expectFailure("23503", "a handoff to no rep") {
            try db.query("""
                insert into conveyor.handoffs (account_id, from_rep_id, to_rep_id, kind)
                select id, hunter_id, $1, 'manual' from conveyor.accounts
                """, [missing])
        }
        SchemaTests.expectFailure("23503", "a handoff from no rep") {
            try db.query("""
                insert into conveyor.handoffs (account_id, from_rep_id, to_rep_id, kind)
                select id, $1, owner_id, 'manual' from conveyor.accounts
                """, [missing])
        }
        for column in ["to_rep_id", "from_rep_id"] {
            SchemaTests.expectFailure("23503", "an update of \(column) to no rep") {
                try db.query("update conveyor.handoffs set \(column) = $1", [missing])
            }
        }
        #expect(try db.query("select count(*)::int as n from conveyor.handoffs")[0]["n"].int() == 1, "nothing written")

        // boris has no accounts and no handoffs: he may go. hugo and anna stay.
        try db.execute("delete from conveyor.reps where ref = 'boris'")
        try db.execute("update conveyor.accounts set owner_id = null, hunter_id = null, stage = 'churned'")
        for ref in ["hugo", "anna"] {
            let error = SchemaTests.expectFailure("23503", "deleting \(ref), whom a handoff names") {
                try db.query("delete from conveyor.reps where ref = $1", [ref])
            }
            #expect(error?.message.contains("inactive") == true, "says what to do instead: \(String(describing: error))")
        }
        #expect(try db.query("select count(*)::int as n from conveyor.reps")[0]["n"].int() == 2)

        // A team goes with its reps, accounts and their handoffs.
        try db.execute("delete from conveyor.teams")
        #expect(try db.query("select count(*)::int as n from conveyor.handoffs")[0]["n"].int() == 0)
    }

    @Test func namesDefaultToRefsAndUpdatedAtFollowsChanges() throws {
        let db = try Self.team()
        try db.execute("insert into conveyor.accounts (team_id, ref) select id, 'named-later' from conveyor.teams")
        #expect(try db.query("select name from conveyor.accounts")[0]["name"].string() == "named-later")
        try db.execute("update conveyor.accounts set name = null")
        #expect(try db.query("select name from conveyor.accounts")[0]["name"].string() == "named-later", "null again: the ref")
        try db.execute("update conveyor.reps set name = null where ref = 'anna'")
        #expect(try db.query("select name from conveyor.reps where ref = 'anna'")[0]["name"].string() == "anna")

        try db.execute("update conveyor.accounts set updated_at = '2020-01-01', created_at = '2020-01-01'")
        try db.execute("update conveyor.reps set updated_at = '2020-01-01'")
        try db.execute("update conveyor.accounts set value = 5")
        try db.execute("update conveyor.reps set capacity = 3")
        let touched = try db.query("""
            select (select updated_at > now() - interval '1 minute' from conveyor.accounts) as account,
                   (select bool_and(updated_at > now() - interval '1 minute') from conveyor.reps) as reps
            """)[0]
        #expect(try touched["account"].bool() && touched["reps"].bool(), "an update that does not set updated_at sets it")
        try db.execute("update conveyor.accounts set value = 6, updated_at = '2021-06-01'")
        #expect(try db.query("select updated_at = '2021-06-01' as kept from conveyor.accounts")[0]["kept"].bool(), "one it sets stands")
    }

    /// No index covers the columns a handoff changes, so its update of the
    /// account can be HOT (no index entries written).
    @Test func aHandoffChangesNoIndexedColumnOfAccounts() throws {
        let db = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let indexed = try db.query("""
            select distinct a.attname
            from pg_index i
            join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
            where i.indrelid = 'conveyor.accounts'::regclass
            union
            select 'predicate or expression' from pg_index
            where indrelid = 'conveyor.accounts'::regclass and (indpred is not null or indexprs is not null)
            """).map { try $0["attname"].string() }
        for column in ["owner_id", "stage", "handed_off_at", "updated_at", "predicate or expression"] {
            #expect(!indexed.contains(column), "\(column) is indexed: \(indexed)")
        }
    }
}
