/// What a connection may do, from the peer's kernel credentials; ordered by power:
/// `viewer` reads, `operator` also changes data, `admin` also controls the daemon.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    case viewer
    case `operator`
    case admin

    public static func < (lhs: Role, rhs: Role) -> Bool {
        lhs.rank < rhs.rank
    }

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .operator: 1
        case .admin: 2
        }
    }
}
