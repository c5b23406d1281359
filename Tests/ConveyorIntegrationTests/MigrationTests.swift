import ConveyorPostgres
// @testable: `Migration` has no public initializer, so a custom migration
// list for `Migrator(migrations:)` cannot be built otherwise.
@testable import ConveyorStore
import Foundation
import Testing

@Suite struct MigrationTests {
    /// Everything the migrations made, and the bookkeeping, in one value: the
    /// relations with their oids (a drop and re-create changes them), columns,
    /// indexes, constraints, functions with their bodies, triggers, and every
    /// schema_migrations row with its applied_at.
    static func fingerprint(_ connection: PostgresConnection) throws -> String {
        try connection.query("""
            select string_agg(item, E'\\n' order by item) as fingerprint from (
                select 'rel ' || c.relname || ' ' || c.relkind::text || ' ' || c.oid as item
                from pg_class as c where c.relnamespace = 'conveyor'::regnamespace
                union all
                select 'col ' || table_name || '.' || column_name || ' ' || udt_name || ' '
                       || is_nullable || ' ' || coalesce(column_default, '-')
                from information_schema.columns where table_schema = 'conveyor'
                union all
                select 'idx ' || indexname || ' ' || indexdef from pg_indexes where schemaname = 'conveyor'
                union all
                select 'con ' || conname || ' ' || pg_get_constraintdef(oid)
                from pg_constraint where connamespace = 'conveyor'::regnamespace
                union all
                select 'fn ' || p.oid::regprocedure::text || ' ' || p.oid || ' ' || md5(p.prosrc)
                from pg_proc as p where p.pronamespace = 'conveyor'::regnamespace
                union all
                select 'trg ' || t.tgname || ' ' || t.tgrelid::regclass::text || ' ' || t.oid
                from pg_trigger as t join pg_class as c on c.oid = t.tgrelid
                where c.relnamespace = 'conveyor'::regnamespace and not t.tgisinternal
                union all
                select 'mig ' || version || ' ' || file || ' ' || checksum || ' ' || applied_at
                from conveyor.schema_migrations
            ) as everything
            """)[0]["fingerprint"].string()
    }

    static func appliedRows(_ connection: PostgresConnection) throws -> [(version: Int, file: String, checksum: String)] {
        try connection.query("select version, file, checksum from conveyor.schema_migrations order by version").map {
            (try $0["version"].int(), try $0["file"].string(), try $0["checksum"].string())
        }
    }

    static func relationExists(_ connection: PostgresConnection, _ name: String) throws -> Bool {
        try connection.query("select to_regclass($1) is not null as present", [name])[0]["present"].bool()
    }

    @Test func embeddedMigrationsAreNumberedFromTheSQLFolder() throws {
        let versions = Migrator.embedded.map(\.version)
        #expect(!versions.isEmpty)
        #expect(versions == versions.sorted())
        #expect(Set(versions).count == versions.count, "two embedded migrations share a version: \(versions)")
        #expect(Migrator.embedded.first?.file == "001_schema.sql")
        #expect(Migrator.embedded.contains { $0.file == "002_record_win.sql" })
        #expect(Migrator().latestVersion == versions.last)
    }

    @Test func migratingAnEmptyDatabaseAppliesAndRecordsEveryEmbeddedMigration() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeEmptyDatabase())
        #expect(try !Self.relationExists(connection, "conveyor.schema_migrations"))
        #expect(try Migrator().pendingMigrations(connection).map(\.version) == Migrator.embedded.map(\.version))

        let applied = try Migrator().migrate(connection)

        #expect(applied.map(\.version) == Migrator.embedded.map(\.version))
        let rows = try Self.appliedRows(connection)
        #expect(rows.map(\.version) == Migrator.embedded.map(\.version))
        #expect(rows.map(\.file) == Migrator.embedded.map(\.file))
        #expect(rows.map(\.checksum) == Migrator.embedded.map(\.checksum))
        #expect(try Migrator().pendingMigrations(connection).isEmpty)
        // the schema is really there
        for table in ["teams", "reps", "accounts", "interactions", "deals", "handoffs", "alerts", "jobs"] {
            #expect(try Self.relationExists(connection, "conveyor.\(table)"), "conveyor.\(table) is missing")
        }
        #expect(try connection.query("select to_regprocedure('conveyor.record_win(text,text,text,text,text[],numeric)') is not null as present")[0]["present"].bool())
        // the advisory lock was released
        let locks = try connection.query("select count(*) as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()")
        #expect(try locks[0]["n"].int() == 0)
    }

    @Test func migratingAgainAppliesNothingAndChangesNothing() throws {
        // makeDatabase clones a template the harness already migrated
        let conninfo = try TestPostgres.makeDatabase()
        let connection = try TestPostgres.connect(conninfo)
        let before = try Self.fingerprint(connection)
        #expect(try Self.appliedRows(connection).count == Migrator.embedded.count)

        #expect(try Migrator().migrate(connection).isEmpty)
        #expect(try Migrator().migrate(TestPostgres.connect(conninfo)).isEmpty)

        #expect(try Self.fingerprint(connection) == before)
    }

    @Test func migratingAFreshDatabaseTwiceIsIdempotent() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeEmptyDatabase())
        #expect(try Migrator().migrate(connection).count == Migrator.embedded.count)
        let before = try Self.fingerprint(connection)
        #expect(try Migrator().migrate(connection).isEmpty)
        #expect(try Self.fingerprint(connection) == before)
    }

    @Test func concurrentMigrationsOfOneEmptyDatabaseApplyEachVersionOnce() throws {
        let conninfo = try TestPostgres.makeEmptyDatabase()
        let results = TestPostgres.onThreads(4, connect: { try TestPostgres.connect(conninfo) }) { _, connection in
            try Migrator().migrate(connection).map(\.version)
        }

        var appliedVersions: [Int] = []
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let versions): appliedVersions += versions
            case .failure(let error): Issue.record("migrate on thread \(index) failed: \(error)")
            }
        }
        // one runner applied them all (in order); the others found nothing to do
        #expect(appliedVersions == Migrator.embedded.map(\.version))
        #expect(results.compactMap { try? $0.get() }.filter { !$0.isEmpty }.count == 1)

        let connection = try TestPostgres.connect(conninfo)
        let rows = try Self.appliedRows(connection)
        #expect(rows.map(\.version) == Migrator.embedded.map(\.version))
        #expect(rows.map(\.checksum) == Migrator.embedded.map(\.checksum))
        #expect(try Migrator().pendingMigrations(connection).isEmpty)
    }

    @Test func aMigrationChangedAfterItWasAppliedIsRefused() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let connection = try TestPostgres.connect(conninfo)
        let changed = try #require(Migrator.embedded.first { $0.version == 2 } ?? Migrator.embedded.first)
        try connection.query("update conveyor.schema_migrations set checksum = 'x' where version = $1", [changed.version])
        let before = try Self.fingerprint(connection)

        do {
            let applied = try Migrator().migrate(connection)
            Issue.record("migrate must refuse a changed migration, applied \(applied.map(\.file))")
        } catch let error as MigrationError {
            #expect(error.description.contains(changed.file), "names the file: \(error)")
            #expect(error.description.contains("changed"), "says it was changed: \(error)")
            #expect(!error.description.contains("\n"))
        }
        #expect(throws: MigrationError.self) { try Migrator().pendingMigrations(connection) }
        #expect(try Self.fingerprint(connection) == before)
        // the refusal released the advisory lock: another session can take it
        let other = try TestPostgres.connect(conninfo)
        #expect(try other.query("select pg_try_advisory_lock($1) as locked", [Migrator.lockKey])[0]["locked"].bool())
    }

    /// A database that recorded a former text of a migration (001 before its comments
    /// stopped pointing outside the repository, 011 as briefly edited) is up to date.
    @Test(arguments: Migrator.formerChecksums.flatMap { version, checksums in checksums.map { (version, $0) } })
    func aDatabaseThatRecordedAFormerTextMigratesAsUpToDate(version: Int, former: String) throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        #expect(former != Migrator.embedded.first { $0.version == version }?.checksum)
        try connection.query("update conveyor.schema_migrations set checksum = $1 where version = $2", [former, version])
        let before = try Self.fingerprint(connection)
        #expect(try Migrator().migrate(connection).isEmpty)
        #expect(try Self.fingerprint(connection) == before)
    }

    /// Migration 017 counts the handoffs made before it; from then on its trigger
    /// counts every insert, by team and kind, whoever writes it, and a rolled-back
    /// insert not at all.
    @Test func migration017TalliesHandoffsBeforeAndAfterIt() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeEmptyDatabase())
        try Migrator(migrations: Migrator.embedded.filter { $0.version < 17 }).migrate(connection)
        try connection.execute("""
            insert into conveyor.teams (name) values ('rail'), ('sea');
            insert into conveyor.reps (team_id, ref, role) select id, 'anna', 'account_manager' from conveyor.teams;
            insert into conveyor.accounts (team_id, ref, stage, owner_id)
            select t.id, t.name || n, 'active', r.id from conveyor.teams t join conveyor.reps r on r.team_id = t.id, generate_series(1, 3) n;
            insert into conveyor.handoffs (account_id, to_rep_id, kind)
            select id, owner_id, case when ref like 'rail%' then 'auto' else 'manual' end from conveyor.accounts;
            """)
        #expect(try Migrator(migrations: Migrator.embedded.filter { $0.version <= 17 }).migrate(connection).map(\.version) == [17])
        func tallies() throws -> [String] {
            try connection.query("""
                select t.name || ':' || h.kind || '=' || h.handoffs as tally
                from conveyor.handoff_tallies h join conveyor.teams t on t.id = h.team_id order by 1
                """).map { try $0["tally"].string() }
        }
        #expect(try tallies() == ["rail:auto=3", "sea:manual=3"])
        try connection.execute("""
            insert into conveyor.handoffs (account_id, to_rep_id, kind)
            select id, owner_id, 'redistribution' from conveyor.accounts where ref in ('rail1', 'rail2', 'sea1');
            insert into conveyor.handoffs (account_id, to_rep_id, kind) select id, owner_id, 'auto' from conveyor.accounts where ref = 'rail3';
            """)
        try connection.execute("begin; insert into conveyor.handoffs (account_id, to_rep_id, kind) select id, owner_id, 'auto' from conveyor.accounts; rollback;")
        #expect(try tallies() == ["rail:auto=4", "rail:redistribution=2", "sea:manual=3", "sea:redistribution=1"])
    }

    /// Migration 022 takes each manager's newest handoff from before it; from then
    /// on the handoffs trigger moves it forward only (an older handoff, a deleted
    /// account, a rolled-back insert leave it), whoever writes the handoff, and
    /// routing reads it.
    @Test func migration022KeepsEachManagersLastAssignmentMovingForward() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeEmptyDatabase())
        try Migrator(migrations: Migrator.embedded.filter { $0.version < 22 }).migrate(connection)
        try connection.execute("""
            insert into conveyor.teams (name) values ('rail');
            insert into conveyor.reps (team_id, ref, role)
            select id, ref, 'account_manager' from conveyor.teams, unnest(array['anna', 'ben', 'cleo']) as ref;
            insert into conveyor.accounts (team_id, ref, stage)
            select t.id, 'client-' || n, 'won' from conveyor.teams t, generate_series(1, 4) n;
            insert into conveyor.handoffs (account_id, to_rep_id, kind, created_at)
            select a.id, r.id, 'auto', timestamptz '2026-01-01 00:00Z' + (a.ref = 'client-2')::int * interval '1 day'
            from conveyor.accounts a join conveyor.reps r on r.ref = 'anna' where a.ref in ('client-1', 'client-2');
            """)
        #expect(try Migrator(migrations: Migrator.embedded.filter { $0.version <= 22 }).migrate(connection).map(\.version) == [22])
        let team = try connection.query("select id from conveyor.teams")[0]["id"].int64()
        func lastAssigned() throws -> [String] {
            try HandoffRouter.candidates(connection, teamId: team).map { candidate in
                candidate.ref + "=" + (candidate.lastAssignedAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never")
            }
        }
        #expect(try lastAssigned() == ["anna=2026-01-02T00:00:00Z", "ben=never", "cleo=never"])
        try connection.execute("""
            insert into conveyor.handoffs (account_id, to_rep_id, kind, created_at)
            select a.id, r.id, 'manual', timestamptz '2026-01-01 12:00Z'
            from conveyor.accounts a join conveyor.reps r on r.ref in ('anna', 'ben') where a.ref = 'client-3';
            update conveyor.handoffs set to_rep_id = (select id from conveyor.reps where ref = 'cleo'), created_at = '2026-01-03 00:00Z'
            where account_id = (select id from conveyor.accounts where ref = 'client-1');
            delete from conveyor.accounts where ref = 'client-2';
            """)
        try connection.execute("""
            begin;
            insert into conveyor.handoffs (account_id, to_rep_id, kind, created_at)
            select a.id, r.id, 'auto', timestamptz '2026-02-01 00:00Z'
            from conveyor.accounts a join conveyor.reps r on r.ref = 'ben' where a.ref = 'client-4';
            rollback;
            """)
        #expect(try lastAssigned() == ["anna=2026-01-02T00:00:00Z", "ben=2026-01-01T12:00:00Z", "cleo=2026-01-03T00:00:00Z"])
    }

    /// 015 moves a time stored out of its range to the nearer end (still away or snoozed
    /// for good, or long back) before it adds the constraint, so no later update of such a
    /// row fails the check.
    @Test func migration015ClampsTimesOutOfRangeBeforeItChecksThem() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeEmptyDatabase())
        try Migrator(migrations: Migrator.embedded.filter { $0.version < 15 }).migrate(connection)
        try connection.query("insert into conveyor.teams (name) values ('rail')")
        try connection.query("""
            insert into conveyor.reps (team_id, ref, role, away_until)
            select id, r.ref, 'account_manager', r.until::timestamptz from conveyor.teams,
                   (values ('far', '99999-01-01'), ('never', '-infinity'), ('soon', '2030-01-01')) as r(ref, until)
            """)
        try connection.query("""
            insert into conveyor.alerts (team_id, kind, severity, status, snoozed_until)
            select id, 'no_eligible_manager', 'low', 'snoozed', 'infinity' from conveyor.teams
            """)
        #expect(try Migrator().migrate(connection).map(\.version).contains(15))
        let reps = try connection.query("select ref, conveyor.iso8601(away_until) as until from conveyor.reps order by ref")
        #expect(try reps.map { "\(try $0["ref"].string()) \(try $0["until"].string())" }
            == ["far 9999-12-31T23:59:59.000Z", "never 1970-01-01T00:00:00.000Z", "soon 2030-01-01T00:00:00.000Z"])
        #expect(try connection.query("select conveyor.iso8601(snoozed_until) as until from conveyor.alerts")[0]["until"].string()
            == "9999-12-31T23:59:59.000Z")
        try connection.query("update conveyor.reps set capacity = 5")
        try connection.query("update conveyor.alerts set severity = 'high'")
    }

    @Test func anAppliedMigrationUnknownToThisBinaryIsRefused() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        try connection.query(
            "insert into conveyor.schema_migrations (version, file, checksum) values ($1, $2, $3)",
            [9999, "9999_from_the_future.sql", "0"]
        )
        let before = try Self.fingerprint(connection)

        do {
            let applied = try Migrator().migrate(connection)
            Issue.record("migrate must refuse a database newer than the binary, applied \(applied.map(\.file))")
        } catch let error as MigrationError {
            #expect(error.description.contains("9999"), "names the version: \(error)")
            #expect(error.description.contains("newer than this conveyord") && error.description.contains("upgrade conveyord"), "says what to do: \(error)")
            #expect(error.description.contains("upgrade"), "says what to do: \(error)")
        }
        #expect(try Self.fingerprint(connection) == before)
    }

    @Test func aFailingMigrationThrowsAndLeavesNoTraceOfItself() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeEmptyDatabase())
        let good = Migration(version: 1, file: "001_good.sql", text: "create schema if not exists conveyor; create table conveyor.good (id int);")
        let bad = Migration(version: 2, file: "002_bad.sql", text: """
            create table conveyor.half_done (id int);
            insert into conveyor.good values (1);
            select 1 / 0;
            """)
        let later = Migration(version: 3, file: "003_later.sql", text: "create table conveyor.later (id int);")

        do {
            let applied = try Migrator(migrations: [later, bad, good]).migrate(connection)
            Issue.record("a failing migration must throw, applied \(applied.map(\.file))")
        } catch let error as MigrationError {
            #expect(error.description.contains("002_bad.sql"), "names the file: \(error)")
            #expect(error.description.contains("division by zero"), "carries the server's reason: \(error)")
        }

        // the good one before it stays applied; the bad one rolled back whole; the later one never ran
        #expect(try Self.appliedRows(connection).map(\.version) == [1])
        #expect(try Self.relationExists(connection, "conveyor.good"))
        #expect(try connection.query("select count(*) as n from conveyor.good")[0]["n"].int() == 0)
        #expect(try !Self.relationExists(connection, "conveyor.half_done"))
        #expect(try !Self.relationExists(connection, "conveyor.later"))
        #expect(!connection.inTransaction)
        #expect(try connection.query("select count(*) as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()")[0]["n"].int() == 0)

        // once fixed, the next run applies exactly what is pending
        let fixed = Migration(version: 2, file: "002_bad.sql", text: "create table conveyor.half_done (id int);")
        let applied = try Migrator(migrations: [good, fixed, later]).migrate(connection)
        #expect(applied.map(\.version) == [2, 3])
        #expect(try Self.appliedRows(connection).map(\.version) == [1, 2, 3])
    }

    /// A table of its own and a migration that alters it, for the lock tests.
    static let lockedTable = Migration(version: 1, file: "001_table.sql", text: "create schema if not exists conveyor; create table conveyor.busy (id int);")
    static let alterLockedTable = Migration(version: 2, file: "002_alter.sql", text: "alter table conveyor.busy add column note text;")

    /// A database with `conveyor.busy` and a second session whose open transaction holds a lock on it.
    static func busyTable() throws -> (conninfo: String, connection: PostgresConnection, holder: PostgresConnection) {
        let conninfo = try TestPostgres.makeEmptyDatabase()
        let connection = try TestPostgres.connect(conninfo)
        try Migrator(migrations: [lockedTable]).migrate(connection)
        let holder = try TestPostgres.connect(conninfo)
        try holder.execute("begin; select count(*) from conveyor.busy")
        return (conninfo, connection, holder)
    }

    static func noteColumns(_ connection: PostgresConnection) throws -> Int {
        try connection.query("select count(*) as n from information_schema.columns where table_name = 'busy' and column_name = 'note'")[0]["n"].int()
    }

    static func waitingForBusy(_ connection: PostgresConnection) throws -> Bool {
        try connection.query("select count(*) > 0 as waiting from pg_locks where relation = to_regclass('conveyor.busy') and not granted")[0]["waiting"].bool()
    }

    @Test func aMigrationGivesWayToALongTransactionAndSaysSoWhenItNeverEnds() throws {
        let (_, connection, holder) = try Self.busyTable()
        // without the lock timeout the migration would wait for ever: fail instead
        try connection.query("select set_config('statement_timeout', '20s', false)")

        do {
            let applied = try Migrator(migrations: [Self.lockedTable, Self.alterLockedTable], lockTimeout: .milliseconds(50), attempts: 3)
                .migrate(connection)
            Issue.record("a migration that never gets its lock must throw, applied \(applied.map(\.file))")
        } catch let error as MigrationError {
            #expect(error.description.contains("002_alter.sql"), "names the file: \(error)")
            #expect(error.description.contains("gave way 3 times") && error.description.contains("50 ms"), "says how long it tried: \(error)")
            #expect(error.description.contains("conveyord migrate"), "says what to do: \(error)")
        }
        #expect(try Self.appliedRows(connection).map(\.version) == [1])
        #expect(try Self.noteColumns(connection) == 0)
        #expect(!connection.inTransaction)
        #expect(try connection.query("select count(*) as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()")[0]["n"].int() == 0)
        #expect(try connection.query("select current_setting('lock_timeout') as t")[0]["t"].string() == "0", "the timeout was the transaction's only")
        // the holder's transaction was never disturbed
        #expect(try holder.query("select count(*) as n from conveyor.busy")[0]["n"].int() == 0)
        try holder.execute("commit")
    }

    @Test func aMigrationThatGaveWayAppliesOnceTheLockHolderEnds() throws {
        let (conninfo, observer, holder) = try Self.busyTable()

        var sawWaiting = false, sawGiveWay = false
        let results = TestPostgres.onThreads(1, connect: { try TestPostgres.connect(conninfo) }, whileRunning: {
            // it waits for the lock, gives way (no waiter while it pauses), and only then does the holder end
            let deadline = Date().addingTimeInterval(30)
            while !sawGiveWay, Date() < deadline {
                Thread.sleep(forTimeInterval: 0.005)
                guard let waiting = try? Self.waitingForBusy(observer) else { continue }
                if waiting { sawWaiting = true } else if sawWaiting { sawGiveWay = true }
            }
            _ = try? holder.execute("commit")
        }) { _, connection in
            try Migrator(migrations: [Self.lockedTable, Self.alterLockedTable], lockTimeout: .milliseconds(100), attempts: 300)
                .migrate(connection).map(\.version)
        }

        #expect(sawWaiting && sawGiveWay, "the migration waited for the lock and gave way before the holder ended")
        switch results[0] {
        case .success(let versions): #expect(versions == [2])
        case .failure(let error): Issue.record("migrate failed: \(error)")
        }
        #expect(try Self.appliedRows(observer).map(\.version) == [1, 2])
        #expect(try Self.noteColumns(observer) == 1)
    }
}
