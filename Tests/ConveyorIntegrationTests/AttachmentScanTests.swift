import ConveyorPostgres
import Foundation
import Testing

/// The attachment-risk scan (`conveyor.scan_team`) against real PostgreSQL:
/// exactly the expected accounts flagged with the figures behind them, the
/// alert lifecycle across rescans (update in place, resolve with a reason,
/// reopen, acknowledge, snooze and its early end), settings, and hostile data.
@Suite struct AttachmentScanTests {
    private func fixture() throws -> ScanFixture {
        try ScanFixture(conninfo: TestPostgres.makeDatabase())
    }

    private static func details(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    @Test func exactlyTheExpectedAccountsAreFlagged() throws {
        let team = try fixture()
        try team.exampleAccounts()
        let outcome = try team.scan()
        #expect(try team.findings() == ScanFixture.exampleFindings)
        #expect(outcome["scanned"] == 7)
        #expect(outcome["not_scored"] == 1)
        #expect(outcome["opened"] == 5)
        #expect(outcome["updated"] == 0)
        #expect(outcome["resolved"] == 0)
        #expect(outcome["duration_ms"] != nil)
        let runs = try team.db.query("select trigger, outcome->>'opened' as opened from conveyor.scan_runs where team_id = $1", [team.teamId])
        #expect(runs.count == 1)
        #expect(try runs[0]["trigger"].string() == "manual")
        #expect(try runs[0]["opened"].string() == "5")
    }

    @Test func detailsCarryTheFiguresBehindEachAlert() throws {
        let team = try fixture()
        try team.exampleAccounts()
        try team.scan()

        let hunter = try Self.details(try #require(try team.alert("hunter70", "hunter_still_servicing")).details)
        #expect(hunter["interactions"] as? Int == 10)
        #expect(hunter["hunter"] as? String == "hunter")
        #expect(hunter["hunter_share_since_handoff"] as? Double == 0.7)
        #expect(hunter["days_since_handoff"] as? Int == 30)
        #expect(hunter["people"] as? Int == 2)
        #expect(hunter["concentration"] as? Double == 0.58)       // 0.7² + 0.3²
        #expect(hunter["effective_people"] as? Double == 1.72)
        #expect(hunter["money_at_stake"] as? Int == 100)
        #expect(hunter["money_source"] as? String == "account_value")
        let top = try #require(hunter["top_people"] as? [[String: Any]])
        #expect(top.map { $0["rep"] as? String } == ["hunter", "m2"])
        #expect(top.map { $0["share"] as? Double } == [0.7, 0.3])
        let thresholds = try #require(hunter["thresholds"] as? [String: Any])
        #expect(thresholds["hunter_share"] as? Double == 0.25)
        #expect(thresholds["grace_days"] as? Int == 14)

        let bowTie = try Self.details(try #require(try team.alert("bowtie", "bow_tie")).details)
        let pair = try #require(bowTie["pair"] as? [String: Any])
        #expect(pair["rep"] as? String == "m1")
        #expect(pair["contact"] as? String == "Li Wei")
        #expect(pair["share"] as? Double == 0.8)
        #expect(bowTie["contacts"] as? Int == 2)
        #expect(bowTie["contact_interactions"] as? Int == 10)
    }

    @Test func severityFollowsTheMoneyAtStake() throws {
        let team = try fixture()
        try team.exampleAccounts()
        // 12 months of deals make top85 the team's most valuable account; an old deal does not count.
        try team.db.query(
            """
            insert into conveyor.deals (account_id, closed_at, amount, margin)
            select id, now() - interval '30 days', 90000, 9000 from conveyor.accounts where ref = 'top85'
            union all
            select id, now() - interval '400 days', 900000, 90000 from conveyor.accounts where ref = 'solo'
            """)
        try team.db.query("update conveyor.teams set low_value_threshold = 250 where id = $1", [team.teamId])
        try team.scan()
        // 7 active accounts: the top quarter is the first two by money (top85 9000, bowtie 700).
        #expect(try team.alert("top85", "single_threaded")?.severity == "high")
        #expect(try team.alert("bowtie", "bow_tie")?.severity == "high")
        #expect(try team.alert("solo", "single_threaded")?.severity == "low")       // 200 < 250
        #expect(try team.alert("hunter70", "hunter_still_servicing")?.severity == "low")
        let top = try Self.details(try #require(try team.alert("top85", "single_threaded")).details)
        #expect(top["money_source"] as? String == "deals_12m")
        #expect(top["money_at_stake"] as? Int == 9000)
    }

    @Test func rescanUpdatesInPlaceAndResolvesWithTheReason() throws {
        let team = try fixture()
        try team.exampleAccounts()
        try team.scan()
        let before = try #require(try team.alert("top85", "single_threaded"))

        let again = try team.scan()
        #expect(again["opened"] == 0)
        #expect(again["updated"] == 5)
        #expect(again["resolved"] == 0)
        #expect(try team.alert("top85", "single_threaded")?.id == before.id)
        #expect(try team.db.query("select count(*)::int as n from conveyor.alerts where team_id = $1", [team.teamId])[0]["n"].int() == 5)

        // top85 gains a second person (17 of 27 = 63%): cleared. solo churns.
        try team.interactions("top85", by: "m2", 7)
        try team.db.query("update conveyor.accounts set stage = 'churned' where ref = 'solo'")
        let third = try team.scan()
        #expect(third["resolved"] == 3)
        #expect(try team.findings() == [Finding("bowtie", "bow_tie", "m1"), Finding("hunter70", "hunter_still_servicing", "hunter")])
        let cleared = try Self.details(try #require(try team.alert("top85", "single_threaded")).details)
        #expect(cleared["resolution"] as? String == "cleared")
        let churned = try Self.details(try #require(try team.alert("solo", "no_backup")).details)
        #expect(churned["resolution"] as? String == "account_churned")

        // The condition comes back: a new alert, the resolved one stays resolved.
        try team.interactions("top85", by: "m1", 40)
        #expect(try team.scan()["opened"] == 1)
        let reopened = try #require(try team.alert("top85", "single_threaded"))
        #expect(reopened.id != before.id)
        #expect(reopened.status == "open")
        #expect(try team.db.query("select status from conveyor.alerts where id = $1", [before.id])[0]["status"].string() == "resolved")
    }

    /// A rescan changes no indexed column of the alerts it finds again, and
    /// their pages keep room for the new versions (023): the updates are HOT
    /// ones, with no index entry written. (Pages packed full, as before 023,
    /// moved most of these 120 alerts to other pages.)
    @Test func aRescanUpdatesItsAlertsOnTheirOwnPages() throws {
        let team = try fixture()
        for n in 1...60 {
            try team.account("solo-\(n)")
            try team.interactions("solo-\(n)", by: "m1", 12)
        }
        #expect(try team.scan()["opened"] == 120)
        let updates = try team.db.transaction {
            #expect(try team.scan()["updated"] == 120)
            return try team.db.query("""
                select n_tup_upd::int as updated, n_tup_hot_upd::int as hot
                from pg_stat_xact_user_tables where relid = 'conveyor.alerts'::regclass
                """)[0]
        }
        #expect(try updates["updated"].int() == 120)
        #expect(try updates["hot"].int() >= 108, "fewer than 90 % of a rescan's updates were HOT")
    }

    /// Autovacuum never analyzes a temporary table: the scan gives its
    /// snapshot of figures a key and statistics itself before it joins the
    /// alerts to it (024), so no estimate can make that join a nested loop
    /// over every account for each alert.
    @Test func theScansFiguresHaveAKeyAndStatisticsBeforeTheAlertsAreJoinedToThem() throws {
        let team = try fixture()
        try team.exampleAccounts()
        let figures = try team.db.transaction {
            let scanned = try team.scan()["scanned"]
            let table = try team.db.query("""
                select c.reltuples::int as estimated_rows,
                       exists (select from pg_index x where x.indrelid = c.oid and x.indisprimary) as keyed
                from pg_class c where c.oid = 'pg_temp.scan_figures'::regclass
                """)[0]
            return (scanned, table)
        }
        #expect(try figures.1["estimated_rows"].int64() == figures.0)
        #expect(try figures.1["keyed"].bool())
    }

    @Test func anAccountMovedToAnotherTeamOrTooQuietResolvesAndADeletedOneTakesItsAlerts() throws {
        let team = try fixture()
        try team.exampleAccounts()
        try team.scan()
        let other = try team.db.query("insert into conveyor.teams (name) values ('road') returning id")[0]["id"].int64()
        try team.db.query("update conveyor.accounts set team_id = $1, hunter_id = null, owner_id = null where ref = 'bowtie'", [other])
        // hunter70's interactions age out of the window (now more than 90 days ago).
        try team.db.query(
            "update conveyor.interactions set occurred_at = occurred_at - interval '100 days' where account_id = (select id from conveyor.accounts where ref = 'hunter70')")
        try team.db.query("delete from conveyor.accounts where ref = 'top85'")
        #expect(try team.scan()["resolved"] == 2)
        let moved = try Self.details(try #require(try team.alert("bowtie", "bow_tie")).details)
        #expect(moved["resolution"] as? String == "account_moved")
        let quiet = try Self.details(try #require(try team.alert("hunter70", "hunter_still_servicing")).details)
        #expect(quiet["resolution"] as? String == "not_scored")
        #expect(try team.alert("top85", "single_threaded") == nil)
    }

    @Test func acknowledgedStaysUntilResolvedAndASnoozeEndsEarlyWhenTheRiskGrows() throws {
        let team = try fixture()
        try team.exampleAccounts()
        try team.scan()
        let acked = try #require(try team.alert("solo", "single_threaded"))
        let snoozed = try #require(try team.alert("top85", "single_threaded"))
        #expect(snoozed.severity == "medium")
        try team.db.query("update conveyor.alerts set status = 'acknowledged', acknowledged_at = now() where id = $1", [acked.id])
        try team.db.query("update conveyor.alerts set status = 'snoozed', snoozed_until = now() + interval '30 days' where id = $1", [snoozed.id])

        try team.scan()
        #expect(try team.alert("solo", "single_threaded")?.status == "acknowledged")
        #expect(try team.alert("top85", "single_threaded")?.status == "snoozed")

        // top85 becomes the team's most valuable account: high, and the snooze ends.
        try team.db.query("update conveyor.accounts set value = 100000 where ref = 'top85'")
        try team.scan()
        let grown = try #require(try team.alert("top85", "single_threaded"))
        #expect(grown.id == snoozed.id)
        #expect(grown.severity == "high")
        #expect(grown.status == "open")
        #expect(try team.db.query("select snoozed_until from conveyor.alerts where id = $1", [snoozed.id])[0]["snoozed_until"].optionalDate() == nil)
    }

    @Test func aSnoozeWhoseDatePassedIsOpenAgain() throws {
        let team = try fixture()
        try team.exampleAccounts()
        try team.scan()
        let alert = try #require(try team.alert("top85", "single_threaded"))
        try team.db.query("update conveyor.alerts set status = 'snoozed', snoozed_until = now() - interval '1 second' where id = $1", [alert.id])
        try team.scan()
        #expect(try team.alert("top85", "single_threaded")?.status == "open")
    }

    @Test func teamSettingsChangeTheRulesAndOutOfRangeSettingsAreRefused() throws {
        let team = try fixture()
        try team.exampleAccounts()
        try team.db.query(
            "update conveyor.teams set single_threaded_share = 0.6, min_interactions = 3, hunter_grace_days = 3 where id = $1", [team.teamId])
        try team.scan()
        let found = try team.findings()
        #expect(found.contains(Finding("sparse", "single_threaded", "m1")))      // 3 interactions now score
        #expect(found.contains(Finding("split55", "single_threaded", "m1")) == false)   // 55% < 60%
        #expect(found.contains(Finding("fresh", "hunter_still_servicing", "hunter")))   // 5 days > 3 days of grace

        for (column, value) in [
            ("window_days", "0"), ("window_days", "100000"), ("min_interactions", "-1"), ("hunter_share", "1.5"),
            ("hunter_share", "0"), ("single_threaded_share", "'NaN'"), ("bow_tie_share", "2"), ("no_backup_days", "0"),
            ("high_severity_share", "-0.1"), ("hunter_grace_days", "-3"), ("bow_tie_min_interactions", "0"),
        ] {
            #expect(throws: PostgresError.self, "\(column) = \(value)") {
                try team.db.query("update conveyor.teams set \(column) = \(value) where id = $1", [team.teamId])
            }
        }
        for zone in ["Mars/Olympus_Mons", "", "Europe/Berlin; drop table x", String(repeating: "A", count: 1000)] {
            #expect(throws: PostgresError.self) {
                try team.db.query("update conveyor.teams set time_zone = $1 where id = $2", [zone, team.teamId])
            }
        }
        #expect(throws: PostgresError.self) {
            try team.db.query("update conveyor.teams set scan_local_time = '24:00' where id = $1", [team.teamId])
        }
    }

    @Test func hostileInteractionsHaveADefinedOutcome() throws {
        let team = try fixture()
        // Interactions in the future are not counted: 3 real ones are too few to score.
        try team.account("future")
        try team.interactions("future", by: "m1", 3)
        try team.interactions("future", by: "m1", 50, fromDaysAgo: -30, toDaysAgo: -1)
        // A rep of another team working the account counts as a person on it.
        let other = try team.db.query("insert into conveyor.teams (name) values ('sea') returning id")[0]["id"].int64()
        try team.db.query("insert into conveyor.reps (team_id, ref, role) values ($1, 'outsider', 'account_manager')", [other])
        try team.account("shared")
        try team.interactions("shared", by: "m1", 5)
        try team.db.query(
            """
            insert into conveyor.interactions (account_id, rep_id, occurred_at, kind)
            select a.id, r.id, now() - interval '2 days', 'email'
            from conveyor.accounts a, conveyor.reps r, generate_series(1, 5)
            where a.ref = 'shared' and r.ref = 'outsider'
            """)
        // NULL, blank and 1,000-character contacts; 100,000 interactions with one timestamp.
        try team.account("crowd")
        let long = String(repeating: "Ж", count: 1000)
        try team.interactions("crowd", by: "m2", 20, contact: long)
        try team.interactions("crowd", by: "m2", 5, contact: "   ")
        try team.interactions("crowd", by: "m3", 5)
        try team.db.query(
            """
            insert into conveyor.interactions (account_id, rep_id, occurred_at, kind, contact)
            select a.id, r.id, now() - interval '3 days', 'shipment', null
            from conveyor.accounts a, conveyor.reps r, generate_series(1, 100000)
            where a.ref = 'crowd' and r.ref = 'm1' and a.team_id = r.team_id
            """)

        let outcome = try team.scan()
        #expect(outcome["scanned"] == 3)
        #expect(outcome["not_scored"] == 1)
        let found = try team.findings()
        #expect(found.contains { $0.account == "future" } == false)
        #expect(found.contains { $0.account == "shared" } == false, "50/50 with the outsider: \(found)")
        #expect(found.contains(Finding("crowd", "single_threaded", "m1")))
        #expect(found.contains(Finding("crowd", "bow_tie", "m2")))
        let crowd = try Self.details(try #require(try team.alert("crowd", "bow_tie")).details)
        let pair = try #require(crowd["pair"] as? [String: Any])
        #expect((pair["contact"] as? String)?.count == 101)          // 100 characters and an ellipsis
        #expect(crowd["contact_interactions"] as? Int == 20)          // blank contacts name nobody
    }

    /// Spellings that differ in case and surrounding spaces are one
    /// contact; the pair is named as written in the window, never by a
    /// spelling older than the window; a bow tie's thresholds show its own
    /// minimum, not the team's.
    @Test func spellingsOfOneContactAreOnePersonNamedAsWrittenInTheWindow() throws {
        let team = try fixture()
        try team.db.query("update conveyor.teams set bow_tie_min_interactions = 8, min_interactions = 3 where id = $1", [team.teamId])
        try team.account("spelled")
        try team.interactions("spelled", by: "m1", 3, contact: "Li Wei")
        try team.interactions("spelled", by: "m1", 3, contact: " li wei")
        try team.interactions("spelled", by: "m1", 3, contact: "LI WEI ")
        try team.interactions("spelled", by: "m2", 1, contact: "Anna Nowak")
        // 120 days ago: outside the 90-day window, inside the 180 days of no_backup.
        try team.interactions("spelled", by: "m1", 4, fromDaysAgo: 121, toDaysAgo: 119, contact: "lI wEI")

        try team.scan()
        let bowTie = try Self.details(try #require(try team.alert("spelled", "bow_tie")).details)
        let pair = try #require(bowTie["pair"] as? [String: Any])
        #expect(["Li Wei", "li wei", "LI WEI"].contains(pair["contact"] as? String ?? ""), "\(pair)")
        #expect(pair["interactions"] as? Int == 9)
        #expect(pair["share"] as? Double == 0.9)
        #expect(bowTie["contacts"] as? Int == 2)
        #expect(bowTie["contact_interactions"] as? Int == 10)
        let thresholds = try #require(bowTie["thresholds"] as? [String: Any])
        #expect(thresholds["bow_tie_min_interactions"] as? Int == 8)
        #expect(thresholds["min_interactions"] as? Int == 3)
        #expect(thresholds["share"] as? Double == 0.7)
    }

    @Test func aSecondScanOfTheSameTeamIsRefusedWithWhenTheFirstStarted() throws {
        let team = try fixture()
        try team.exampleAccounts()
        let holder = try TestPostgres.connect(team.conninfo)
        try holder.execute("begin")
        _ = try holder.query("select conveyor.scan_team($1)", [team.teamId])
        let error = try #require(throws: PostgresError.self) { try team.scan() }
        #expect(error.code == .lockNotAvailable)
        #expect(error.message.contains("already running (started 20"), "\(error.message)")
        #expect(try team.db.query("select conveyor.running_scan_started_at($1) is not null as running", [team.teamId])[0]["running"].bool())
        try holder.execute("rollback")
        #expect(try team.db.query("select conveyor.running_scan_started_at($1) is null as idle", [team.teamId])[0]["idle"].bool())
        #expect(try team.scan()["opened"] == 5)
    }

    @Test func aScanThatFailsHalfwayLeavesNothing() throws {
        let team = try fixture()
        try team.exampleAccounts()
        // A trigger that fails on the first resolution: the opened alerts of the same scan roll back too.
        try team.scan()
        try team.interactions("top85", by: "m2", 7)
        try team.db.execute(
            """
            create function pg_temp.refuse() returns trigger language plpgsql as $$
            begin if new.status = 'resolved' then raise exception 'refused'; end if; return new; end $$;
            create trigger refuse before update on conveyor.alerts for each row execute function pg_temp.refuse();
            """)
        try team.interactions("split55", by: "m1", 60)   // would open a new alert
        #expect(throws: PostgresError.self) { try team.scan() }
        try team.db.execute("drop trigger refuse on conveyor.alerts")
        #expect(try team.alert("split55", "single_threaded") == nil)
        #expect(try team.alert("top85", "single_threaded")?.status == "open")
        #expect(try team.db.query("select count(*)::int as n from conveyor.scan_runs")[0]["n"].int() == 1)
    }

    @Test func unknownTeamAndTriggerAreRefused() throws {
        let team = try fixture()
        let missing = try #require(throws: PostgresError.self) { try team.db.query("select conveyor.scan_team(987654)") }
        #expect(missing.code == .noDataFound)
        let trigger = try #require(throws: PostgresError.self) { try team.db.query("select conveyor.scan_team($1, 'cron')", [team.teamId]) }
        #expect(trigger.code?.errorClass == "22")
    }
}

private typealias Finding = ScanFixture.Finding
