@testable import ConveyorCLI
import ConveyorProtocol
import Testing

/// The exact text people see for the main results (no terminal: nothing is cut).
@Suite struct ResultViewTests {
    func shown(_ command: String, _ result: String, width: Int? = nil) throws -> String {
        ResultView.text(command: command, result: try json(result), display: plainDisplay(width: width))
    }

    @Test func status() throws {
        #expect(try shown("status", Fixtures.status) == """
            database.reachable         true
            database.round_trip_ms     0.412
            open_alerts                3
            pid                        4242
            queue.available            2
            queue.waiting              1
            shutting_down              false
            uptime_seconds             3 h 12 min
            version                    0.1.0
            workers.batches_in_flight  0
            workers.configured         2
            workers.draining           false
            workers.long_lane          idle
            workers.phases             idle,claiming

            scans:
            team     last_scan.finished_at            last_scan.outcome.opened  last_scan.outcome.scanned  last_scan.started_at             last_scan.trigger  next_scan.local      next_scan.time_zone  next_scan.utc
            rail     2026-12-01 02:00:01Z (17 h ago)  2                         120                        2026-12-01 02:00:00Z (17 h ago)  nightly            2026-12-02T02:00:00  Europe/Berlin        2026-12-02 01:00:00Z (in 5 h)
            customs  -                                -                         -                          -                                -                  -                    -                    -

            """)
    }

    @Test func repList() throws {
        #expect(try shown("rep.list", Fixtures.reps) == """
            id  team  ref   name         active  away_until                      capacity  owned  role             skills
            1   rail  ivan  Ivan Petrov  true    -                               40        12     account_manager  rail,customs
            2   rail  olga  Olga Li      true    2026-12-24 18:00:00Z (in 22 d)  30        3      account_manager  -
            3   rail  petr  Petr         false   -                               0         0      closer           rail

            """)
    }

    @Test func alertList() throws {
        #expect(try shown("alert.list", Fixtures.alerts) == """
            next_after  125000.5/7

            alerts:
            id  team  account       kind             severity  status        rep   share  money     interactions  last_seen
            7   rail  beta          single_threaded  high      open          olga  85%    125000.5  40            2026-12-01 02:00:00Z (17 h ago)
            9   rail  gamma\\x1b[2J  bow_tie          medium    acknowledged  -     70%    -         12            2026-12-01 19:40:00Z (6 min ago)

            """)
    }

    @Test func jobListWithAWaitingJob() throws {
        #expect(try shown("job.list", Fixtures.jobs) == """
            id  attempts  kind     last_error                        max_attempts  run_at                             state      team_id
            41  1         handoff  no account manager with capacity  5             waiting for capacity               waiting    1
            42  2         webhook  HTTP 503                          8             2026-12-01 19:50:00Z (in 3 min)    retryable  1
            43  1         mystery  unknown job kind mystery          1             2026-12-01 19:00:00Z (46 min ago)  dead       -

            """)
    }

    @Test func daemonHelp() throws {
        #expect(try shown("help", Fixtures.help) == """
              ping
                  check that the daemon answers (viewer)
              rep.away team=<team> ref=<ref> [until=<until>]
                  mark a rep absent: no handoffs until back (operator)

            """)
    }

    @Test func aTableIsFittedToTheTerminal() throws {
        // 115 columns wide at its natural size; at 72 the widest columns give way first.
        let text = try shown("rep.list", Fixtures.reps, width: 72)
        #expect(text == """
            id  team  ref   name    active  away_…  capaci…  owned  role     skills
            1   rail  ivan  Ivan …  true    -       40       12     accoun…  rail,c…
            2   rail  olga  Olga …  true    2026-…  30       3      accoun…  -
            3   rail  petr  Petr    false   -       0        0      closer   rail

            """)
        #expect(text.split(separator: "\n").allSatisfy { DisplayWidth.of(String($0)) <= 72 })
        // Field lines are cut too.
        let fields = try shown("rep.add", #"{"rep":{"name":"Ivan Petrov the Very Long","ref":"ivan"}}"#, width: 24)
        #expect(fields == "rep.name  Ivan Petrov t…\nrep.ref   ivan\n")
    }

    @Test func aSingleRecordIsFieldLinesAndMetricsAreText() throws {
        #expect(try shown("rep.add", #"{"rep":{"id":5,"ref":"ivan","skills":["rail","customs"],"team":"rail"}}"#) == """
            rep.id      5
            rep.ref     ivan
            rep.skills  rail,customs
            rep.team    rail

            """)
        #expect(try shown("metrics", ##"{"text":"# HELP x\nx{team=\"\u001b[2J\"} 1\n"}"##) == "# HELP x\nx{team=\"\\x1b[2J\"} 1\n")
        #expect(try shown("ping", #"{"pong":true}"#) == "pong  true\n")
        #expect(try shown("team.list", #"{"teams":[]}"#) == "(none)\n")
    }

    @Test func colourMarksHeadersAndSeverities() throws {
        let text = ResultView.text(command: "alert.list", result: try json(Fixtures.alerts), display: Display(now: fixedNow, width: nil, color: true))
        #expect(text.contains("\u{1B}[1mid\u{1B}[0m"))
        #expect(text.contains("\u{1B}[31mhigh\u{1B}[0m"))
        #expect(text.contains("\u{1B}[33mmedium\u{1B}[0m"))
        #expect(!(try shown("alert.list", Fixtures.alerts)).contains("\u{1B}"), "without colour no escape at all")
    }
}
