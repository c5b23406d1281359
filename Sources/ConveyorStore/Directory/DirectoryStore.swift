import ConveyorCore
import ConveyorPostgres
import Foundation

/// A team as admins see it.
public struct TeamRecord: Sendable, Codable, Equatable {
    public let id: Int64
    public let name: String
    public let timeZone: String
    public let scanLocalTime: String
    public let paused: Bool
    public let skillsFallback: Bool
    enum CodingKeys: String, CodingKey {
        case id, name, paused, timeZone = "time_zone", scanLocalTime = "scan_local_time", skillsFallback = "skills_fallback"
    }
}

/// A rep as admins see it, with the accounts they own.
public struct RepRecord: Sendable, Codable, Equatable {
    public let id: Int64
    public let team: String
    public let ref: String
    public let name: String
    public let role: String
    public let capacity: Int
    public let skills: [String]
    public let active: Bool
    public let awayUntil: Date?
    public let owned: Int
    enum CodingKeys: String, CodingKey {
        case id, team, ref, name, role, capacity, skills, active, owned, awayUntil = "away_until"
    }
}

/// An account as admins see it.
public struct AccountRecord: Sendable, Codable, Equatable {
    public let id: Int64
    public let team: String
    public let ref: String
    public let name: String
    public let stage: String
    public let needs: [String]
    public let value: String
    public let hunter: String?
    public let owner: String?
    public let wonAt: Date?
    public let handedOffAt: Date?
    enum CodingKeys: String, CodingKey {
        case id, team, ref, name, stage, needs, value, hunter, owner, wonAt = "won_at", handedOffAt = "handed_off_at"
    }
}

/// A handoff with its explanation (JSON text).
public struct HandoffRecord: Sendable, Equatable {
    public let id: Int64
    public let kind: String
    public let createdAt: Date
    public let from: String?
    public let to: String
    public let explanation: String
}

/// Changes to a rep; nil fields stay as they are.
public struct RepChanges: Sendable {
    public enum Away: Sendable { case keep, until(Date), clear }
    public var name: String?
    public var role: RepRole?
    public var capacity: Int?
    public var skills: [String]?
    public var away: Away = .keep
    public init(name: String? = nil, role: RepRole? = nil, capacity: Int? = nil, skills: [String]? = nil, away: Away = .keep) {
        self.name = name
        self.role = role
        self.capacity = capacity
        self.skills = skills
        self.away = away
    }
}

/// Teams, reps and accounts behind the admin commands (SQL in
/// `SQL/queries/directory.sql`). Lookups return nil when nothing matches.
public enum DirectoryStore {
    public static func teams(_ connection: PostgresConnection) throws -> [TeamRecord] {
        try connection.query(Queries.listTeams).map(team)
    }

    public static func addTeam(_ connection: PostgresConnection, name: String, timeZone: String?, scanLocalTime: String?) throws -> TeamRecord {
        try team(connection.query(Queries.addTeam, [name, timeZone, scanLocalTime])[0])
    }

    public static func updateTeam(
        _ connection: PostgresConnection, name: String, timeZone: String? = nil, scanLocalTime: String? = nil, paused: Bool? = nil
    ) throws -> TeamRecord? {
        try connection.query(Queries.updateTeam, [name, timeZone, scanLocalTime, paused]).first.map(team)
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
        return try rep(connection, teamId: teamId, ref: ref)!
    }

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

    /// `conveyor.record_win`: returns the handoff job id.
    public static func recordWin(
        _ connection: PostgresConnection, team: String, account: String, hunter: String, name: String?, needs: [String]?, value: Decimal?
    ) throws -> Int64 {
        try connection.query(Queries.recordWin, [team, account, hunter, name, needs, value])[0]["job_id"].int64()
    }

    public static func account(_ connection: PostgresConnection, teamId: Int64, ref: String) throws -> AccountRecord? {
        try connection.query(Queries.accountByRef, [teamId, ref]).first.map { row in
            AccountRecord(
                id: try row["id"].int64(), team: try row["team"].string(), ref: try row["ref"].string(),
                name: try row["name"].string(), stage: try row["stage"].string(), needs: try row["needs"].textArray(),
                value: try row["value"].string(), hunter: try row["hunter"].optionalString(),
                owner: try row["owner"].optionalString(), wonAt: try row["won_at"].optionalDate(),
                handedOffAt: try row["handed_off_at"].optionalDate()
            )
        }
    }

    public static func latestHandoff(_ connection: PostgresConnection, accountId: Int64) throws -> HandoffRecord? {
        try connection.query(Queries.latestHandoff, [accountId]).first.map { row in
            HandoffRecord(
                id: try row["id"].int64(), kind: try row["kind"].string(), createdAt: try row["created_at"].date(),
                from: try row["from_ref"].optionalString(), to: try row["to_ref"].string(),
                explanation: try row["explanation"].string()
            )
        }
    }

    /// Refs of reps by id (for explanations, which store ids).
    public static func repRefs(_ connection: PostgresConnection, ids: [Int64]) throws -> [Int64: String] {
        var refs: [Int64: String] = [:]
        for row in try connection.query(Queries.repRefs, [ids]) { refs[try row["id"].int64()] = try row["ref"].string() }
        return refs
    }

    private static func team(_ row: PostgresRow) throws -> TeamRecord {
        TeamRecord(
            id: try row["id"].int64(), name: try row["name"].string(), timeZone: try row["time_zone"].string(),
            scanLocalTime: try row["scan_local_time"].string(), paused: try row["paused"].bool(),
            skillsFallback: try row["skills_fallback"].bool()
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
