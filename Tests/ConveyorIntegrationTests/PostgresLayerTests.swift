import ConveyorPostgres
import Foundation
import Testing

@Suite struct PostgresLayerTests {
    @Test func decodesEveryTypedValue() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let row = try connection.query("""
            select null::text as nothing, true as yes, 42::int as answer, 9007199254740993::bigint as big,
                   12.50::numeric as money, 'héllo "wörld"'::text as greeting,
                   array['a', 'b c', 'd"e', null, 'f\\g']::text[] as words, '{}'::text[] as empty,
                   '2026-11-29 06:02:40.123456+00'::timestamptz as at, '{"k": [1, 2]}'::jsonb as doc
            """)[0]
        #expect(row["nothing"].isNull)
        #expect(try row["nothing"].optionalString() == nil)
        #expect(try row["yes"].bool() == true)
        #expect(try row["answer"].int() == 42)
        #expect(try row["big"].int64() == 9_007_199_254_740_993)
        #expect(try row["money"].decimal() == Decimal(string: "12.50"))
        #expect(try row["greeting"].string() == "héllo \"wörld\"")
        #expect(try row["words"].textArray() == ["a", "b c", "d\"e", "f\\g"])
        #expect(try row["empty"].textArray() == [])
        let at = try row["at"].date()
        #expect(abs(at.timeIntervalSince1970 - 1_795_932_160.123456) < 0.000_001)
        struct Doc: Decodable, Equatable { let k: [Int] }
        #expect(try row["doc"].json(Doc.self) == Doc(k: [1, 2]))
    }

    /// Every timestamp PostgreSQL can hold decodes to the instant it names, as PostgreSQL
    /// counts it: years past 9999, before Christ, the extremes; ±infinity as the far
    /// ends of Date.
    @Test func decodesEveryTimestampPostgreSQLCanHold() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let rows = try connection.query("""
            select t as at, extract(epoch from t)::float8 as epoch
            from unnest(array['99999-01-01 00:00:00+00', '294276-12-31 23:59:59.999999+00', '10000-01-01 00:00:00+00',
                              '0044-03-15 12:00:00+00 BC', '4713-11-24 00:00:00+00 BC', '0001-01-01 00:00:00+00',
                              '1969-12-31 23:59:59.5+00', '2026-12-01 18:00:00+05:30']::timestamptz[]) as t
            """)
        #expect(rows.count == 8)
        for row in rows {
            let at = try row["at"].date(), epoch = try row["epoch"].double(), text = try row["at"].string()
            #expect(abs(at.timeIntervalSince1970 - epoch) < 0.001, "\(text): \(at.timeIntervalSince1970) vs \(epoch)")
        }
        let ends = try connection.query("select 'infinity'::timestamptz as late, '-infinity'::timestamptz as early")[0]
        #expect(try ends["late"].date() == .distantFuture)
        #expect(try ends["early"].date() == .distantPast)
    }

    /// A connection whose server goes silent right after it was made is
    /// given up after `connect_timeout`, not waited for: no watchdog knows
    /// of a connection before it is set up.
    @Test(.timeLimit(.minutes(1)))
    func aServerSilentOnceConnectedIsGivenUpAfterConnectTimeout() throws {
        let server = try MuteServer()
        defer { server.stop() }
        let started = ContinuousClock.now
        #expect {
            _ = try PostgresConnection(conninfo: server.conninfo + " connect_timeout=2")
        } throws: { error in
            "\(error)".contains("did not answer within 2.0 s while setting up the session")
        }
        #expect(ContinuousClock.now - started >= .seconds(2))
    }

    @Test func decodingErrorsNameTheColumn() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let row = try connection.query("select 'x'::text as word, null::int as gap")[0]
        #expect(throws: PostgresError.self) { try row["word"].int() }
        #expect(throws: PostgresError.self) { try row["gap"].int() }
        #expect(throws: PostgresError.self) { try row["missing"].optionalString() }
        do {
            _ = try row["word"].int64()
            Issue.record("decoding text as bigint must fail")
        } catch let error as PostgresError {
            #expect(error.kind == .decoding)
            #expect(error.message.contains("\"word\""))
        }
    }

    @Test func bindsRoundTripHostileValues() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let hostile = "'; drop table conveyor.jobs; --\u{0}".replacingOccurrences(of: "\u{0}", with: "")
        let words = ["plain", "with \"quotes\"", "back\\slash", "{braces}", "comma,inside", "", "NULL"]
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        let row = try connection.query(
            "select $1::text as a, $2::text[] as b, $3::timestamptz as c, $4::bigint as d, $5::bool as e, $6::text as f",
            [hostile, words, date, Int64.min, false, String?.none]
        )[0]
        #expect(try row["a"].string() == hostile)
        #expect(try row["b"].textArray() == words)
        #expect(try row["c"].date() == date)
        #expect(try row["d"].int64() == Int64.min)
        #expect(try row["e"].bool() == false)
        #expect(row["f"].isNull)
        #expect(try connection.query("select count(*) as n from conveyor.jobs")[0]["n"].int() == 0)
    }

    @Test func serverErrorsCarrySQLStateDetailAndHint() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        try connection.execute("create table t (id int primary key)")
        try connection.query("insert into t values ($1)", [1])
        do {
            try connection.query("insert into t values ($1)", [1])
            Issue.record("a duplicate key must fail")
        } catch let error as PostgresError {
            #expect(error.sqlState == "23505")
            #expect(error.code == .uniqueViolation)
            #expect(error.code?.errorClass == SQLState.integrityConstraintViolationClass)
            #expect(error.kind == .server)
            #expect(error.detail?.contains("already exists") == true)
            #expect(!error.isConnectionLoss)
        }
        do {
            try connection.query("select * from no_such_table")
            Issue.record("an unknown table must fail")
        } catch let error as PostgresError {
            #expect(error.sqlState == "42P01")
        }
        // The connection stays usable after errors.
        #expect(try connection.query("select 1 as one")[0]["one"].int() == 1)
    }

    /// A row or column that is not there is an error, never a crash.
    @Test func outOfRangeRowsAndColumnsThrow() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let rows = try connection.query("select 1 as one")
        #expect(throws: PostgresError.self) { try rows[1] }
        #expect(throws: PostgresError.self) { try rows[-1] }
        #expect(throws: PostgresError.self) { try rows[0][5].int() }
        #expect(throws: PostgresError.self) { try rows[0]["two"].int() }
        #expect(try rows[0]["one"].int() == 1)
        let none = try connection.query("select 1 as one where false")
        #expect(none.first == nil)
        #expect(throws: PostgresError.self) { try none[0] }
    }

    /// A named query's result is checked against what its SQL file declares.
    @Test func declaredRowCountsAreChecked() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        func statement(_ rows: PreparedStatement.Rows, _ sql: String) -> PreparedStatement {
            PreparedStatement(name: "rows_\(rows.rawValue)_\(abs(sql.hashValue))", rows: rows, sql: sql)
        }
        let two = "select n from generate_series(1, 2) as n"
        let one = "select 1 as n"
        let zero = "select 1 as n where false"
        #expect(try connection.query(statement(.one, one)).count == 1)
        #expect(try connection.query(statement(.optional, zero)).count == 0)
        #expect(try connection.query(statement(.optional, one)).count == 1)
        #expect(try connection.query(statement(.many, two)).count == 2)
        #expect(try connection.query(statement(.none, "create temporary table t (n int)")).count == 0)
        for (rows, sql) in [(PreparedStatement.Rows.one, zero), (.one, two), (.optional, two), (.none, one)] {
            do {
                try connection.query(statement(rows, sql))
                Issue.record("\(sql) must break :\(rows.rawValue)")
            } catch let error as PostgresError {
                #expect(error.message.contains("declares :\(rows.rawValue)"), "\(error)")
            }
        }
        // Scripts run as simple-query text only, and only scripts do.
        #expect(throws: PostgresError.self) { try connection.query(statement(.script, one)) }
        #expect(throws: PostgresError.self) { try connection.execute(statement(.one, one)) }
        try connection.execute(statement(.script, "create temporary table s (n int); insert into s values (1)"))
        #expect(try connection.query("select count(*) as n from s")[0]["n"].int() == 1)
        // The connection stays usable after a refused result.
        #expect(try connection.query("select 1 as one")[0]["one"].int() == 1)
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        try connection.execute("create table t (id int)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try connection.transaction {
                try connection.query("insert into t values (1)")
                throw Boom()
            }
        }
        #expect(!connection.inTransaction)
        try connection.transaction { try connection.query("insert into t values (2)") }
        #expect(try connection.query("select array_agg(id)::text[] as ids from t")[0]["ids"].textArray() == ["2"])
    }

    /// A statement that fails after deferred commands (see
    /// `transactionCommandsGoWithTheNextStatement`) behaves as if they had
    /// been sent alone: the savepoint undoes it, and the outer transaction
    /// goes on, also when the statement failed to prepare. A savepoint whose
    /// body swallowed an error fails at its end (its RELEASE refused) and is
    /// rolled back; one begun in an aborted transaction is refused at once; a
    /// failed first statement leaves no transaction open.
    @Test func savepointKeepsTheOuterTransaction() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        try connection.execute("create table t (id int primary key)")
        try connection.transaction {
            try connection.query("insert into t values (1)")
            #expect(throws: PostgresError.self) {
                try connection.savepoint { try connection.query("insert into t values (1)") }
            }
            #expect(throws: PostgresError.self) {
                try connection.savepoint {
                    try connection.savepoint { try connection.query("insert into t values (2)") }
                    try connection.query("select 1 / 0")
                }
            }
            do {
                try connection.savepoint {
                    try connection.query("insert into t values (3)")
                    _ = try? connection.query("select 1 / 0")
                }
                Issue.record("a savepoint whose transaction is aborted must not end quietly")
            } catch let error as PostgresError {
                #expect(error.code == SQLState(rawValue: "25P02"), "\(error)")
            }
            // A statement prepared for the first time is prepared after the savepoint.
            #expect(throws: PostgresError.self) {
                try connection.savepoint {
                    try connection.query(PreparedStatement(name: "missing_table", rows: .many, sql: "select * from no_such_table"))
                }
            }
            try connection.query("insert into t values (4)")
        }
        #expect(try connection.query("select array_agg(id order by id)::text[] as ids from t")[0]["ids"].textArray() == ["1", "4"])
        // In an aborted transaction a savepoint is refused before its body runs.
        var ran = false
        try connection.transaction {
            _ = try? connection.query("select 1 / 0")
            do {
                try connection.savepoint { ran = true }
                Issue.record("a savepoint in an aborted transaction must be refused")
            } catch let error as PostgresError {
                #expect(error.code == SQLState(rawValue: "25P02"), "\(error)")
            }
        }
        #expect(!ran)
        #expect(!connection.inTransaction)
        #expect(throws: PostgresError.self) { try connection.transaction { try connection.query("select 1 / 0") } }
        #expect(!connection.inTransaction)
        #expect(try connection.query("select count(*)::int as n from t")[0]["n"].int() == 2)
    }

    /// BEGIN, SAVEPOINT and RELEASE travel with the next statement: a
    /// transaction costs its statements and COMMIT, a savepoint nothing,
    /// and one that ends before any statement was sent is never sent.
    @Test func transactionCommandsGoWithTheNextStatement() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        try connection.execute("create table t (id int primary key)")
        let insert = PreparedStatement(name: "insert_t", rows: .none, sql: "insert into t values ($1)")
        try connection.query(insert, [0])
        struct Boom: Error {}
        let before = connection.waits.roundTrips
        try connection.transaction {
            #expect(connection.inTransaction, "a transaction is open from its start, also before BEGIN is sent")
            try connection.query(insert, [1])
            try connection.savepoint { try connection.query(insert, [2]) }
            try connection.savepoint {}
            #expect(throws: Boom.self) { try connection.savepoint { throw Boom() } }
            try connection.query("insert into t values (3)")
        }
        #expect(connection.waits.roundTrips - before == 4, "three statements and COMMIT")
        #expect(!connection.inTransaction)
        #expect(try connection.query("select count(*)::int as n from t")[0]["n"].int() == 4)

        // A transaction that ends before its first statement sends nothing.
        let idle = connection.waits.roundTrips
        #expect(throws: Boom.self) { try connection.transaction { throw Boom() } }
        try connection.transaction {}
        #expect(connection.waits.roundTrips - idle == 1, "only the empty transaction's BEGIN and COMMIT, together")
        #expect(!connection.inTransaction)
    }

    @Test func preparedStatementsAreReused() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let statement = PreparedStatement(name: "double_it", rows: .one, sql: "select $1::int * 2 as doubled")
        for value in 1...5 {
            #expect(try connection.query(statement, [value])[0]["doubled"].int() == value * 2)
        }
        let prepared = try connection.query("select count(*) as n from pg_prepared_statements where name = 'double_it'")
        #expect(try prepared[0]["n"].int() == 1)
    }

    /// Several statements in one round trip: rows in order; a failing one throws
    /// its error after the pipeline ended, and the connection stays usable.
    @Test func pipelinedStatementsAnswerInOrder() throws {
        let connection = try TestPostgres.connect(try TestPostgres.makeDatabase())
        let one = PreparedStatement(name: "pipe_one", rows: .one, sql: "select 1 as n")
        let many = PreparedStatement(name: "pipe_many", rows: .many, sql: "select n from generate_series(1, 3) as n")
        let none = PreparedStatement(name: "pipe_none", rows: .optional, sql: "select 1 as n where false")
        let rows = try connection.pipeline([many, one, none, one])
        #expect(try rows.map { try $0.map { try $0["n"].int() } } == [[1, 2, 3], [1], [], [1]])
        let failing = PreparedStatement(name: "pipe_fail", rows: .one, sql: "select 1 / (random() * 0)::int as n")
        do {
            _ = try connection.pipeline([one, failing, many])
            Issue.record("division by zero must throw")
        } catch let error as PostgresError {
            #expect(error.code == SQLState(rawValue: "22012"), "division by zero: \(error)")
        }
        // A declared row count is checked as with query.
        #expect(throws: PostgresError.self) { try connection.pipeline([PreparedStatement(name: "pipe_two", rows: .one, sql: "select 1 union all select 2")]) }
        #expect(!connection.inTransaction)
        #expect(try connection.pipeline([one])[0][0]["n"].int() == 1)
        #expect(try connection.query("select 2 as two")[0]["two"].int() == 2)

        // With parameters (hostile ones stay values), after a deferred BEGIN:
        // each statement sees what the one before it did.
        try connection.execute("create table p (v text)")
        let put = PreparedStatement(name: "pipe_put", rows: .none, sql: "insert into p values ($1)")
        let count = PreparedStatement(name: "pipe_count", rows: .one, sql: "select count(*)::int as n from p where v = $1")
        let hostile = "'); drop table p; --"
        let answers = try connection.transaction { try connection.pipeline([(put, [hostile]), (count, [hostile])]) }
        #expect(answers.count == 2)
        #expect(try answers[1][0]["n"].int() == 1)
        #expect(try connection.query("select v from p")[0]["v"].string() == hostile)
    }

    @Test func notificationsArriveWithoutPolling() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let listener = try TestPostgres.connect(conninfo)
        let sender = try TestPostgres.connect(conninfo)
        try listener.listen("conveyor_test")
        let started = Date()
        #expect(try listener.waitForNotifications(timeout: 0.2).isEmpty)
        #expect(Date().timeIntervalSince(started) >= 0.19)
        try sender.query("select pg_notify('conveyor_test', $1)", ["hello"])
        let received = try listener.waitForNotifications(timeout: 30)
        #expect(received.map(\.payload) == ["hello"])
        #expect(received.first?.channel == "conveyor_test")
        #expect(received.first?.senderPID == sender.backendPID)
    }

    @Test func badConnectionStringsFailWithOneClearLine() throws {
        for conninfo in ["host=/nonexistent/socket/dir user=nobody", "this is not a conninfo", "postgresql://[::1"] {
            do {
                _ = try PostgresConnection(conninfo: conninfo)
                Issue.record("connecting with \(conninfo) must fail")
            } catch let error as PostgresError {
                #expect(error.kind == .connection)
                #expect(!error.description.contains("\n"))
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test func multiHostStringsPassThroughUntouched() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let server = try TestPostgres.running()
        guard let directory = server.directory else { return }
        let database = conninfo.split(separator: " ").first { $0.hasPrefix("dbname=") }!
        let multiHost = "host=/nonexistent,\(directory) port=5432,5432 user=postgres \(database) target_session_attrs=read-write"
        let connection = try PostgresConnection(conninfo: multiHost)
        #expect(try connection.query("select current_database() as db")[0]["db"].string() == database.dropFirst("dbname=".count).description)
    }

    @Test func lostConnectionIsDetected() throws {
        let conninfo = try TestPostgres.makeDatabase()
        let victim = try TestPostgres.connect(conninfo)
        let killer = try TestPostgres.connect(conninfo)
        try killer.query("select pg_terminate_backend($1)", [victim.backendPID])
        do {
            try victim.query("select 1")
            Issue.record("a terminated connection must fail")
        } catch let error as PostgresError {
            #expect(error.isConnectionLoss)
        }
        #expect(victim.isBroken)
    }
}
