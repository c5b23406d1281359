/// Results as the daemon sends them, for the rendering tests (`fixedNow` is 2026-12-01 19:46:31Z).
enum Fixtures {
    static let status = """
        {"database":{"reachable":true,"round_trip_ms":0.412},"open_alerts":3,"pid":4242,\
        "queue":{"available":2,"waiting":1},\
        "scans":[{"team":"rail","last_scan":{"trigger":"nightly","started_at":"2026-12-01T02:00:00.000Z",\
        "finished_at":"2026-12-01T02:00:01.250Z","outcome":{"scanned":120,"opened":2}},\
        "next_scan":{"local":"2026-12-02T02:00:00","time_zone":"Europe/Berlin","utc":"2026-12-02T01:00:00.000Z"}},\
        {"team":"customs","last_scan":null,"next_scan":null}],\
        "shutting_down":false,"uptime_seconds":11520.5,"version":"0.1.0",\
        "workers":{"batches_in_flight":0,"configured":2,"draining":false,"long_lane":["idle"],"phases":["idle","claiming"]}}
        """

    static let reps = """
        {"reps":[\
        {"id":1,"team":"rail","ref":"ivan","name":"Ivan Petrov","role":"account_manager","capacity":40,"skills":["rail","customs"],"active":true,"owned":12},\
        {"id":2,"team":"rail","ref":"olga","name":"Olga Li","role":"account_manager","capacity":30,"skills":[],"active":true,"owned":3,"away_until":"2026-12-24T18:00:00.000Z"},\
        {"id":3,"team":"rail","ref":"petr","name":"Petr","role":"closer","capacity":0,"skills":["rail"],"active":false,"owned":0}]}
        """

    static let alerts = """
        {"alerts":[\
        {"id":7,"team":"rail","account":"beta","rep":"olga","kind":"single_threaded","severity":"high","status":"open",\
        "first_seen_at":"2026-11-20T02:00:00.000Z","last_seen_at":"2026-12-01T02:00:00.000Z","money_at_stake":125000.5,\
        "details":{"interactions":40,"top_people":[{"rep":"olga","share":0.85}]}},\
        {"id":9,"team":"rail","account":"gamma\\u001b[2J","rep":null,"kind":"bow_tie","severity":"medium","status":"acknowledged",\
        "first_seen_at":"2026-11-30T02:00:00.000Z","last_seen_at":"2026-12-01T19:40:00.000Z","money_at_stake":null,\
        "details":{"interactions":12,"pair":{"share":0.7}}}],\
        "next_after":"125000.5/7"}
        """

    static let jobs = """
        {"jobs":[\
        {"id":41,"kind":"handoff","state":"waiting","attempts":1,"max_attempts":5,"run_at":"4001-01-01T00:00:00.000Z",\
        "last_error":"no account manager with capacity","team_id":1},\
        {"id":42,"kind":"webhook","state":"retryable","attempts":2,"max_attempts":8,"run_at":"2026-12-01T19:50:00.000Z",\
        "last_error":"HTTP 503","team_id":1},\
        {"id":43,"kind":"mystery","state":"dead","attempts":1,"max_attempts":1,"run_at":"2026-12-01T19:00:00.000Z",\
        "last_error":"unknown job kind mystery","team_id":null}]}
        """

    static let help = """
        {"commands":[\
        {"name":"ping","summary":"check that the daemon answers","min_role":"viewer","usage":"ping","args":[]},\
        {"name":"rep.away","summary":"mark a rep absent: no handoffs until back","min_role":"operator",\
        "usage":"rep.away team=<team> ref=<ref> [until=<until>]","args":[]}]}
        """
}
