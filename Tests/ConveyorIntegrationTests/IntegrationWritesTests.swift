import ConveyorPostgres
import ConveyorProtocol
import Foundation
import Testing

/// Rows an integration writes with plain SQL, against the real `conveyord`:
/// an account set to `won` without `record_win` is still handed off, and a
/// handoff that can never succeed is reported (log, alert, `status`) and
/// skipped while the team's other handoffs go on, and deleted accounts
/// leave no candidate snapshot behind that nothing names.
@Suite struct IntegrationWritesTests {
    /// Housekeeping, which finds forgotten wins, runs every `poll_interval`.
    static let environment = ["CONVEYOR_LOG_LEVEL": "notice", "CONVEYOR_POLL_INTERVAL": "0.2"]

    @Test func accountsWonByPlainSQLAreHandedOffOnce() throws {
        let setup = try HandoffDaemonTests.Setup(environment: Self.environment)
        defer { setup.stop() }
        try setup.manager("anna", capacity: 5)
        // A new account inserted as won, with a hunter; an existing lead updated to won, without one.
        try setup.db.query("""
            insert into conveyor.accounts (team_id, ref, name, stage, hunter_id)
            select t.id, 'inserted', 'Inserted', 'won', r.id from conveyor.teams t join conveyor.reps r on r.team_id = t.id
            where t.name = 'rail' and r.ref = 'ivan'
            """)
        try setup.db.query("""
            insert into conveyor.accounts (team_id, ref, name) select id, 'updated', 'Updated' from conveyor.teams where name = 'rail'
            """)
        try setup.db.query("update conveyor.accounts set stage = 'won' where ref = 'updated'")
        #expect(try setup.waitUntilHandedOff("inserted") == "anna")
        #expect(try setup.waitUntilHandedOff("updated") == "anna")
        let handoffs = try setup.db.query("""
            select a.ref, h.kind, f.ref as from_ref, a.handoff_job_id is not null as has_job
            from conveyor.handoffs h join conveyor.accounts a on a.id = h.account_id
            left join conveyor.reps f on f.id = h.from_rep_id order by a.ref
            """).map { "\(try $0["ref"].string()):\(try $0["kind"].string()):\(try $0["from_ref"].optionalString() ?? "-"):\(try $0["has_job"].bool())" }
        #expect(handoffs == ["inserted:auto:ivan:true", "updated:auto:-:true"])
        #expect(setup.daemon.log.contains("enqueued the handoff of accounts won without record_win"))
        // record_win afterwards is idempotent: the job housekeeping enqueued, no second handoff.
        let job = try setup.db.query("select handoff_job_id from conveyor.accounts where ref = 'inserted'")[0]["handoff_job_id"].int64()
        #expect(try setup.win("inserted") == job)
        Thread.sleep(forTimeInterval: 0.6)
        #expect(try HandoffDaemon.int(setup.db, "select count(*)::int from conveyor.handoffs") == 2)
    }

    /// An integration's own trigger refuses every change of one account: its
    /// handoff fails alone, out of attempts it is dead, logged, counted in
    /// `status` and raised as a `handoff_failed` alert, while the team's
    /// other wins, before and after it, are handed off. Once the cause is
    /// gone, `job.retry` hands it off and the alert resolves.
    @Test func aHandoffThatCannotSucceedIsReportedAndSkipped() throws {
        let setup = try HandoffDaemonTests.Setup(environment: Self.environment)
        defer { setup.stop() }
        try setup.manager("anna", capacity: 10)
        try setup.db.query("""
            create function public.refuse_poison() returns trigger language plpgsql as $$
            begin
                raise exception 'the CRM refuses changes to %', new.ref;
            end $$
            """)
        try setup.db.query("""
            create trigger refuse_poison before update on conveyor.accounts
            for each row when (new.ref = 'poison' and new.stage = 'active') execute function public.refuse_poison()
            """)
        // One attempt only, so the test need not wait out the backoff.
        try setup.db.query("alter table conveyor.jobs alter column max_attempts set default 1")
        try setup.db.query("begin")
        for account in ["before", "poison", "after"] {
            try setup.db.query("select conveyor.record_win('rail', $1, 'ivan')", [account])
        }
        try setup.db.query("commit")
        #expect(try setup.waitUntilHandedOff("before") == "anna")
        #expect(try setup.waitUntilHandedOff("after") == "anna")
        let poisonJob = try setup.db.query("select handoff_job_id from conveyor.accounts where ref = 'poison'")[0]["handoff_job_id"].int64()
        #expect(try HandoffDaemon.waitUntil(timeout: 30, interval: 0.05) { try setup.jobState(poisonJob).state == "dead" })
        #expect(try setup.jobState(poisonJob).lastError?.contains("the CRM refuses changes to poison") == true)
        #expect(try setup.account("poison").stage == "won")

        let logged = setup.daemon.log.split(separator: "\n").filter { $0.contains("job failed for good") }
        #expect(logged.count == 1 && logged[0].contains("\"job\":\"\(poisonJob)\"") && logged[0].contains("CRM refuses"), "\(logged)")
        #expect(try setup.client.result("status")["queue"]?["dead"] == 1)
        let alerts = try #require(try setup.client.result("alert.list", ["kind": "handoff_failed"])["alerts"]?.arrayValue)
        #expect(alerts.count == 1, "\(alerts)")
        #expect(alerts.first?["account"] == "poison" && alerts.first?["severity"] == "high", "\(alerts)")
        #expect(alerts.first?["details"]?["job_id"]?.intValue == poisonJob, "\(alerts)")

        // Still routing: a later win of the team is handed off at once.
        try setup.win("later")
        #expect(try setup.waitUntilHandedOff("later") == "anna")

        try setup.db.query("drop trigger refuse_poison on conveyor.accounts")
        _ = try setup.client.result("job.retry", ["id": .int(poisonJob)])
        #expect(try setup.waitUntilHandedOff("poison") == "anna")
        let statuses = try setup.db.query("""
            select al.status from conveyor.alerts al join conveyor.accounts a on a.id = al.account_id
            where a.ref = 'poison' and al.kind = 'handoff_failed'
            """).map { try $0["status"].string() }
        #expect(statuses == ["resolved"])
    }

    /// Deleting accounts by plain SQL deletes their handoffs; housekeeping
    /// then prunes the candidate snapshot that no handoff names any more,
    /// and keeps the team's current one.
    @Test func theSnapshotOfDeletedAccountsIsPruned() throws {
        let setup = try HandoffDaemonTests.Setup(environment: Self.environment)
        defer { setup.stop() }
        try setup.manager("anna", capacity: 5)
        _ = try setup.win("first")
        #expect(try setup.waitUntilHandedOff("first") == "anna")
        try setup.db.query("update conveyor.reps set capacity = 6 where ref = 'anna'")
        _ = try setup.win("second")
        #expect(try setup.waitUntilHandedOff("second") == "anna")
        func snapshots() throws -> Int { try HandoffDaemon.int(setup.db, "select count(*)::int from conveyor.candidate_snapshots") }
        #expect(try snapshots() == 2, "the capacity changed between the wins")
        try setup.db.query("delete from conveyor.accounts where ref = 'first'")
        #expect(try HandoffDaemon.waitUntil(timeout: 30, interval: 0.1) { try snapshots() == 1 })
        #expect(try HandoffDaemon.int(setup.db, """
            select count(*)::int from conveyor.candidate_snapshots s join conveyor.routing_epochs e on e.snapshot_id = s.id
            """) == 1, "the one left is the current one")
    }
}
