import ConveyorPostgres
import ConveyorProtocol

/// The answer to a command that moves a job or an alert from one state to
/// another: the changed record, or why nothing changed (no such record, or
/// a state the command does not apply to).
enum StateChange {
    /// Runs `change`; only when it changed nothing, reads the current state
    /// (to say why), so a successful change costs one statement.
    static func attempt<Record>(
        _ connection: PostgresConnection,
        _ change: (PostgresConnection) throws -> Record?,
        else state: (PostgresConnection) throws -> String?
    ) throws -> (Record?, String?) {
        let record = try change(connection)
        return (record, record == nil ? try state(connection) : nil)
    }

    static func result(_ record: JSONValue?, noun: String, id: Int64, state: String?, allowed: String) throws -> JSONValue {
        if let record { return .object([noun: record]) }
        guard let state else { throw ProtocolError(.notFound, "no \(noun) \(id)") }
        throw ProtocolError(.conflict, "\(noun) \(id) is \(state); this applies only to \(allowed) \(noun)s")
    }
}
