import ConveyorCore

/// One argument of a command.
public struct ArgSpec: Sendable, Equatable {
    public var name: String
    /// Whether the command fails with `invalid_argument` without it.
    public var required: Bool
    public var summary: String
    /// Whether its value is a secret: never recorded (see ``CommandCatalog/redacted(_:)``) nor shown.
    public var secret: Bool

    public init(_ name: String, required: Bool, secret: Bool = false, _ summary: String) {
        self.name = name
        self.required = required
        self.secret = secret
        self.summary = summary
    }
}

/// One admin command: its name, arguments and the least role that may run it.
public struct CommandSpec: Sendable, Equatable {
    public var name: String
    public var summary: String
    public var args: [ArgSpec]
    public var minimumRole: Role
    /// Whether the command answers with a stream of event lines (`watch`) rather than one response.
    public var streams: Bool

    public init(_ name: String, _ summary: String, args: [ArgSpec] = [], minimumRole: Role, streams: Bool = false) {
        self.name = name
        self.summary = summary
        self.args = args
        self.minimumRole = minimumRole
        self.streams = streams
    }

    /// A one-line synopsis such as `rep.away team=<team> ref=<ref> [until=<until>]`.
    public var usage: String {
        let words = args.map { $0.required ? "\($0.name)=<\($0.name)>" : "[\($0.name)=<\($0.name)>]" }
        return ([name] + words).joined(separator: " ")
    }

    /// The entry of ``CommandCatalog/helpResult()`` for this command.
    var helpEntry: JSONValue {
        [
            "name": .string(name),
            "summary": .string(summary),
            "min_role": .string(minimumRole.rawValue),
            "usage": .string(usage),
            "args": .array(
                args.map { ["name": .string($0.name), "required": .bool($0.required), "summary": .string($0.summary)] }),
        ]
    }
}

/// Every command of the admin protocol, as `docs/protocol.md` lists them (its command table
/// is ``markdownReference(_:)``): the daemon dispatches and authorizes by it, `conveyorctl`
/// and `help` describe it.
public enum CommandCatalog {
    /// All commands, in the order `help` shows them.
    public static let all: [CommandSpec] = {
        let team = ArgSpec("team", required: true, "team name")
        let teamFilter = ArgSpec("team", required: false, "only this team")
        let teamName = ArgSpec("name", required: true, "team name")
        let timeZone = ArgSpec("time_zone", required: false, "IANA time zone of the team, e.g. Europe/Berlin")
        let scanTime = ArgSpec("scan_local_time", required: false, "local time of the nightly scan, HH:MM")
        let webhookURL = ArgSpec(
            "webhook_url", required: false, "http(s) address the nightly digest is POSTed to; empty removes it")
        let webhookSecret = ArgSpec(
            "webhook_secret", required: false, secret: true,
            "key of the digest's Conveyor-Signature, 16 to 1000 characters; never shown back")
        let ref = ArgSpec("ref", required: true, "the rep's reference")
        let accountRef = ArgSpec("ref", required: true, "the account's reference")
        let jobID = ArgSpec("id", required: true, "job id")
        let alertID = ArgSpec("id", required: true, "alert id")
        let teamRep = [team, ref]
        func repFields(roleRequired: Bool) -> [ArgSpec] {
            teamRep + [
                ArgSpec("name", required: false, "display name"),
                ArgSpec("role", required: roleRequired, "lead_generator, closer or account_manager"),
                ArgSpec("capacity", required: false, "most accounts the rep manages"),
                ArgSpec("skills", required: false, "comma-separated skills"),
            ]
        }
        let teamAccount = [team, accountRef]

        return [
            CommandSpec("ping", "check that the daemon answers", minimumRole: .viewer),
            CommandSpec("help", "every command with its args and minimum role", minimumRole: .viewer),
            CommandSpec("version", "daemon, protocol, libpq and server versions", minimumRole: .viewer),
            CommandSpec(
                "status", "uptime, workers, database, queue counts, last and next scan per team, open alerts",
                minimumRole: .viewer),
            CommandSpec("metrics", "Prometheus text exposition in result.text", minimumRole: .viewer),

            CommandSpec("team.list", "list teams", minimumRole: .viewer),
            CommandSpec("team.add", "add a team", args: [teamName, timeZone, scanTime], minimumRole: .operator),
            CommandSpec(
                "team.update", "change a team's settings",
                args: [teamName, timeZone, scanTime, ArgSpec("skills_fallback", required: false, "true: route among managers without a needed skill when none has it"),
                    webhookURL, webhookSecret]
                    + TeamSetting.all.map { ArgSpec($0.name, required: false, $0.summary) },
                minimumRole: .operator),
            CommandSpec("team.pause", "stop handoffs and scans for a team", args: [teamName], minimumRole: .operator),
            CommandSpec(
                "team.resume", "restart handoffs and scans for a team", args: [teamName], minimumRole: .operator),

            CommandSpec("rep.list", "list reps", args: [teamFilter], minimumRole: .viewer),
            CommandSpec("rep.add", "add a rep", args: repFields(roleRequired: true), minimumRole: .operator),
            CommandSpec("rep.update", "change a rep", args: repFields(roleRequired: false), minimumRole: .operator),
            CommandSpec(
                "rep.away", "mark a rep absent: no handoffs until back",
                args: teamRep + [ArgSpec("until", required: false, "ISO 8601 end of the absence")],
                minimumRole: .operator),
            CommandSpec("rep.back", "mark a rep present again", args: teamRep, minimumRole: .operator),
            CommandSpec(
                "rep.depart", "make a rep inactive and hand their accounts to the team's other managers (a queue job; progress events while waiting)",
                args: teamRep, minimumRole: .operator),

            CommandSpec(
                "win", "record a won client; the handoff runs as a job",
                args: [
                    team,
                    ArgSpec("account", required: true, "the account's reference"),
                    ArgSpec("hunter", required: true, "ref of the rep who won it"),
                    ArgSpec("name", required: false, "account name"),
                    ArgSpec("needs", required: false, "comma-separated skills the account needs"),
                    ArgSpec("value", required: false, "deal value"),
                ],
                minimumRole: .operator),
            CommandSpec("account.show", "show an account", args: teamAccount, minimumRole: .viewer),
            CommandSpec(
                "account.explain", "the account's latest handoff explanation", args: teamAccount, minimumRole: .viewer),
            CommandSpec(
                "account.reassign", "hand an account to another rep (kind manual)",
                args: teamAccount + [ArgSpec("to", required: true, "ref of the new owner")],
                minimumRole: .operator),

            CommandSpec("queue.stats", "job counts by state", minimumRole: .viewer),
            CommandSpec(
                "job.list", "list jobs", args: [ArgSpec("state", required: false, "only jobs in this state")],
                minimumRole: .viewer),
            CommandSpec("job.retry", "run a failed or cancelled job again", args: [jobID], minimumRole: .operator),
            CommandSpec("job.cancel", "cancel a pending job", args: [jobID], minimumRole: .operator),

            CommandSpec(
                "scan.run", "run the attachment scan for a team now and answer with its outcome (a queue job; progress events while waiting)",
                args: [team, ArgSpec("digest", required: false, "true: send the digest to the team's webhook afterwards")],
                minimumRole: .operator),

            CommandSpec(
                "alert.list", "list alerts, most money at stake first",
                args: [
                    teamFilter,
                    ArgSpec("kind", required: false, "only this kind, e.g. single_threaded"),
                    ArgSpec("status", required: false, "open, acknowledged, snoozed or resolved (default: all but resolved)"),
                    ArgSpec("severity", required: false, "only this severity: low, medium or high"),
                    ArgSpec("rep", required: false, "only alerts on accounts that hang on this rep (ref)"),
                    ArgSpec("limit", required: false, "at most this many (1-1000, default 100)"),
                    ArgSpec("after", required: false, "the next page: the next_after of the previous answer"),
                ],
                minimumRole: .viewer),
            CommandSpec("alert.ack", "acknowledge an alert", args: [alertID], minimumRole: .operator),
            CommandSpec(
                "alert.snooze", "silence an alert for a while",
                args: [alertID, ArgSpec("until", required: true, "ISO 8601 end of the snooze")],
                minimumRole: .operator),

            CommandSpec(
                "watch", "stream events (handoffs, alerts, jobs) until the client closes",
                args: [ArgSpec("topics", required: false, "comma-separated: handoffs, alerts, jobs; all if omitted")],
                minimumRole: .viewer, streams: true),

            CommandSpec("config.reload", "reread the configuration", minimumRole: .admin),
            CommandSpec(
                "log.level", "change the log level",
                args: [ArgSpec("level", required: true, "trace, debug, info, notice, warning, error or critical")],
                minimumRole: .admin),
            CommandSpec(
                "drain", "stop claiming jobs; answer once running batches are done (progress events while waiting)",
                args: [ArgSpec("timeout", required: false, "seconds to wait for running batches, 0 to 3600 (default 60; 0: do not wait)")],
                minimumRole: .admin),
            CommandSpec("resume", "claim jobs again after drain", minimumRole: .admin),
            CommandSpec("shutdown", "drain and exit", minimumRole: .admin),
        ]
    }()

    private static let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The command called `name`, or `nil` (the daemon answers `unknown_command`).
    public static func spec(named name: String) -> CommandSpec? {
        byName[name]
    }

    /// The names of every secret argument of any command (``ArgSpec/secret``).
    public static let secretArguments = Set(all.flatMap(\.args).filter(\.secret).map(\.name))

    /// `args` with the value of every argument named in ``secretArguments`` replaced by
    /// `"(redacted)"`, whatever the command (one that does not take it too): what may be
    /// recorded or logged of a request.
    public static func redacted(_ args: [String: JSONValue]) -> [String: JSONValue] {
        var shown = args
        for name in secretArguments where shown[name] != nil { shown[name] = .string("(redacted)") }
        return shown
    }

    /// The result of `help`: `{"commands":[…]}`, one entry per command of `commands` (by
    /// default ``all``) in that order:
    /// `{"name","summary","min_role","usage","args":[{"name","required","summary"}]}`.
    public static func helpResult(_ commands: [CommandSpec] = all) -> JSONValue {
        ["commands": .array(commands.map(\.helpEntry))]
    }

    /// The command table of `docs/protocol.md`: one row per command of `commands` (by
    /// default ``all``) in that order, with its minimum role, its arguments (each marked
    /// required or not, with its summary) and its summary; a streaming command is marked.
    public static func markdownReference(_ commands: [CommandSpec] = all) -> String {
        Markdown.table(
            ["command", "minimum role", "arguments", "summary"],
            commands.map { spec in
                let args = spec.args.map { arg in
                    Markdown.code(arg.name) + (arg.required ? " (required)" : "") + ": " + arg.summary
                }
                return [
                    Markdown.code(spec.name) + (spec.streams ? " (streams)" : ""), spec.minimumRole.rawValue,
                    args.isEmpty ? "none" : args.joined(separator: "<br>"), spec.summary,
                ]
            })
    }
}
