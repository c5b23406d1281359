/// The role of a rep on the sales conveyor; raw values are the `reps.role` column values.
public enum RepRole: String, Sendable, Codable, CaseIterable {
    /// Hunts: cold calls, reaching the decision maker.
    case leadGenerator = "lead_generator"
    /// Hunts: turns a qualified lead into a client.
    case closer
    /// Farms: sells to and keeps existing clients; the only role that receives handoffs.
    case accountManager = "account_manager"

    /// Whether the role hunts new clients (and therefore never receives a handoff).
    public var isAcquisition: Bool {
        switch self {
        case .leadGenerator, .closer: true
        case .accountManager: false
        }
    }
}

/// The stage of an account on the conveyor; raw values are the `accounts.stage` column values.
public enum AccountStage: String, Sendable, Codable, CaseIterable {
    case lead
    case qualified
    case won
    case active
    case churned
}
