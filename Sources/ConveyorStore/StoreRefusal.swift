/// Why a store operation changed nothing, as its own outcome rather than a
/// database error: the daemon turns it into the protocol's `not_found` or
/// `conflict`. Thrown from inside the operation's transaction, it rolls it back.
public enum StoreRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Something named does not exist (a team, a rep, an account, a job).
    case notFound(String)
    /// It exists, but its state does not allow the change.
    case conflict(String)

    public var description: String {
        switch self {
        case .notFound(let message), .conflict(let message): message
        }
    }

    /// `value`, or `notFound(message)` when it is nil.
    static func required<T>(_ value: T?, _ message: @autoclosure () -> String) throws -> T {
        guard let value else { throw StoreRefusal.notFound(message()) }
        return value
    }

    /// The record a state change returned; when it changed nothing, why:
    /// no such record, or one in a state the change does not apply to.
    static func stateChange<Record>(
        _ record: Record?, noun: String, id: Int64, allowed: String, currentState: () throws -> String?
    ) throws -> Record {
        if let record { return record }
        guard let state = try currentState() else { throw StoreRefusal.notFound("no \(noun) \(id)") }
        throw StoreRefusal.conflict("\(noun) \(id) is \(state); this applies only to \(allowed) \(noun)s")
    }
}
