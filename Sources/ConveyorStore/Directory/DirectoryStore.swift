import ConveyorCore
import ConveyorPostgres
import Foundation

/// Teams, reps and accounts behind the admin commands (SQL in
/// `SQL/queries/directory.sql`). Operations that name a team by name look it
/// up in their own transaction and refuse with `StoreRefusal.notFound`;
/// those by id are the building blocks, run in the caller's transaction.
public enum DirectoryStore {
    public static func teams(_ connection: PostgresConnection) throws -> [TeamRecord] {
        try connection.query(Queries.listTeams).map(team)
    }

    public static func addTeam(_ connection: PostgresConnection, name: String, timeZone: String?, scanLocalTime: String?) throws -> TeamRecord {
        try team(connection.query(Queries.addTeam, [name, timeZone, scanLocalTime])[0])
    }

    /// What `updateTeam` changes; nil and absent settings are kept.
    public struct TeamChanges: Sendable, Equatable {
        public var timeZone: String?
        public var scanLocalTime: String?
        public var paused: Bool?
        public var skillsFallback: Bool?
        /// ``TeamSetting`` values by name.
        public var settings: [String: Double] = [:]
        /// The webhook's address and secret: an empty string removes it.
        public var webhookURL: String?
        public var webhookSecret: String?
        public init(paused: Bool? = nil) { self.paused = paused }
    }

    /// Changes a team's settings. A team left with a webhook address but no
    /// secret to sign with is refused (`conflict`) and nothing changes.
    public static func updateTeam(_ connection: PostgresConnection, name: String, changes: TeamChanges) throws -> TeamRecord {
        let settings = String(decoding: try JSONEncoder().encode(changes.settings), as: UTF8.self)
        return try connection.transaction {
            let row = try connection.query(Queries.updateTeam, [
                name, changes.timeZone, changes.scanLocalTime, changes.paused, changes.skillsFallback, settings,
                changes.webhookURL, changes.webhookSecret,
            ]).first
            let updated = try team(StoreRefusal.required(row, noSuchTeam(name)))
            guard updated.webhookURL == nil || updated.webhookSecretSet else {
                throw StoreRefusal.conflict(
                    "team \(Quoting.excerpt(name)) has no webhook_secret to sign its digest with: give webhook_secret=… with webhook_url")
            }
            return updated
        }
    }

    public static func teamId(_ connection: PostgresConnection, name: String) throws -> Int64? {
        try connection.query(Queries.teamId, [name]).first?["id"].int64()
    }

    public static func reps(_ connection: PostgresConnection, team: String?) throws -> [RepRecord] {
        try connection.query(Queries.listReps, [team]).map(rep)
    }

    public static func rep(_ connection: PostgresConnection, teamId: Int64, ref: String) throws -> RepRecord? {
        try connection.query(Queries.repByRef, [teamId, ref]).first.map(rep)
    }

    public static func addRep(
        _ connection: PostgresConnection, teamId: Int64, ref: String, name: String?, role: RepRole, capacity: Int?, skills: [String]?
    ) throws -> RepRecord {
        try connection.query(Queries.addRep, [teamId, ref, name, role.rawValue, capacity, skills])
        return try StoreRefusal.required(try rep(connection, teamId: teamId, ref: ref), "rep \(Quoting.excerpt(ref)) vanished")
    }

    /// Adds a rep to the team named `team`.
    public static func addRep(
        _ connection: PostgresConnection, team: String, ref: String, name: String?, role: RepRole, capacity: Int?, skills: [String]?
    ) throws -> RepRecord {
        try connection.transaction {
            try addRep(connection, teamId: try requireTeamId(connection, team), ref: ref, name: name, role: role, capacity: capacity, skills: skills)
        }
    }

    /// Changes a rep; nil when the team has no such rep.
    public static func updateRep(_ connection: PostgresConnection, teamId: Int64, ref: String, changes: RepChanges) throws -> RepRecord? {
        let (awayMode, awayUntil): (String, Date?) = switch changes.away {
        case .keep: ("keep", nil)
        case .until(let date): ("set", date)
        case .clear: ("clear", nil)
        }
        let parameters: [any PostgresBindable] = [
            teamId, ref, changes.name, changes.role?.rawValue, changes.capacity, changes.skills, awayMode, awayUntil,
        ]
        guard try connection.query(Queries.updateRep, parameters).first != nil else { return nil }
        return try rep(connection, teamId: teamId, ref: ref)
    }

    /// Changes a rep of the team named `team`.
    public static func updateRep(_ connection: PostgresConnection, team: String, ref: String, changes: RepChanges) throws -> RepRecord {
        try connection.transaction {
            let rep = try updateRep(connection, teamId: try requireTeamId(connection, team), ref: ref, changes: changes)
            return try StoreRefusal.required(rep, noSuchRep(ref, team))
        }
    }

    /// `conveyor.record_win`: returns the handoff job id. Its unknown team or
    /// hunter (SQLSTATE 23503) is `notFound`.
    public static func recordWin(
        _ connection: PostgresConnection, team: String, account: String, hunter: String, name: String?, needs: [String]?, value: Decimal?
    ) throws -> Int64 {
        do {
            return try connection.query(Queries.recordWin, [team, account, hunter, name, needs, value])[0]["job_id"].int64()
        } catch let error as PostgresError where error.code == .foreignKeyViolation {
            throw StoreRefusal.notFound(error.message)
        }
    }

    /// The account `ref` of the team named `team`.
    public static func account(_ connection: PostgresConnection, team: String, ref: String) throws -> AccountRecord {
        try connection.transaction {
            try requireAccount(connection, teamId: try requireTeamId(connection, team), team: team, ref: ref)
        }
    }

    /// The full explanation of an account's latest handoff (the JSON of
    /// `conveyor.handoff_explanation`), read with the account in one transaction.
    public static func latestExplanation(_ connection: PostgresConnection, team: String, ref: String) throws -> String {
        try connection.transaction {
            let account = try requireAccount(connection, teamId: try requireTeamId(connection, team), team: team, ref: ref)
            let row = try StoreRefusal.required(
                try connection.query(Queries.latestExplanation, [account.id]).first,
                "account \(Quoting.excerpt(ref)) has not been handed off yet"
            )
            return try row["explanation"].string()
        }
    }

    static func requireTeamId(_ connection: PostgresConnection, _ name: String) throws -> Int64 {
        try StoreRefusal.required(try teamId(connection, name: name), noSuchTeam(name))
    }

    static func requireRep(_ connection: PostgresConnection, teamId: Int64, team: String, ref: String) throws -> RepRecord {
        try StoreRefusal.required(try rep(connection, teamId: teamId, ref: ref), noSuchRep(ref, team))
    }

    static func requireAccount(_ connection: PostgresConnection, teamId: Int64, team: String, ref: String) throws -> AccountRecord {
        let row = try StoreRefusal.required(
            try connection.query(Queries.accountByRef, [teamId, ref]).first,
            "no account \(Quoting.excerpt(ref)) in team \(Quoting.excerpt(team))"
        )
        return AccountRecord(
            id: try row["id"].int64(), team: try row["team"].string(), ref: try row["ref"].string(),
            name: try row["name"].string(), stage: try row["stage"].string(), needs: try row["needs"].textArray(),
            value: try row["value"].string(), hunter: try row["hunter"].optionalString(),
            owner: try row["owner"].optionalString(), wonAt: try row["won_at"].optionalDate(),
            handedOffAt: try row["handed_off_at"].optionalDate()
        )
    }

    private static func noSuchTeam(_ name: String) -> String { "no team \(Quoting.excerpt(name))" }

    private static func noSuchRep(_ ref: String, _ team: String) -> String {
        "no rep \(Quoting.excerpt(ref)) in team \(Quoting.excerpt(team))"
    }

    private static func team(_ row: PostgresRow) throws -> TeamRecord {
        TeamRecord(
            id: try row["id"].int64(), name: try row["name"].string(), timeZone: try row["time_zone"].string(),
            scanLocalTime: try row["scan_local_time"].string(), paused: try row["paused"].bool(),
            skillsFallback: try row["skills_fallback"].bool(), webhookURL: try row["webhook_url"].optionalString(),
            webhookSecretSet: try row["webhook_secret_set"].bool(),
            settings: try JSONDecoder().decode([String: Double].self, from: Data(try row["settings"].string().utf8))
        )
    }

    private static func rep(_ row: PostgresRow) throws -> RepRecord {
        RepRecord(
            id: try row["id"].int64(), team: try row["team"].string(), ref: try row["ref"].string(),
            name: try row["name"].string(), role: try row["role"].string(), capacity: try row["capacity"].int(),
            skills: try row["skills"].textArray(), active: try row["active"].bool(),
            awayUntil: try row["away_until"].optionalDate(), owned: try row["owned"].int()
        )
    }
}
