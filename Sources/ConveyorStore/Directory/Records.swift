import ConveyorCore
import Foundation

/// A team as admins see it: whether it has a webhook secret, never the
/// secret; its scan settings (``TeamSetting``) encode beside its other fields.
public struct TeamRecord: Sendable, Encodable, Equatable {
    public let id: Int64
    public let name: String
    public let timeZone: String
    public let scanLocalTime: String
    public let paused: Bool
    public let skillsFallback: Bool
    public let webhookURL: String?
    public let webhookSecretSet: Bool
    /// Each ``TeamSetting``'s value by name.
    public let settings: [String: Double]
    enum CodingKeys: String, CodingKey {
        case id, name, paused, timeZone = "time_zone", scanLocalTime = "scan_local_time", skillsFallback = "skills_fallback"
        case webhookURL = "webhook_url", webhookSecretSet = "webhook_secret_set"
    }

    private struct SettingKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(timeZone, forKey: .timeZone)
        try container.encode(scanLocalTime, forKey: .scanLocalTime)
        try container.encode(paused, forKey: .paused)
        try container.encode(skillsFallback, forKey: .skillsFallback)
        try container.encodeIfPresent(webhookURL, forKey: .webhookURL)
        try container.encode(webhookSecretSet, forKey: .webhookSecretSet)
        var settingsContainer = encoder.container(keyedBy: SettingKey.self)
        for (key, value) in settings {
            try settingsContainer.encode(value, forKey: SettingKey(stringValue: key))
        }
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
