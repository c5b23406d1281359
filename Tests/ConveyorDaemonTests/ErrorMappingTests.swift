@testable import ConveyorDaemon
import ConveyorPostgres
import ConveyorProtocol
import ConveyorStore
import Testing

/// Every error a command can meet maps to one protocol code, by its type
/// and SQLSTATE alone: the same message with another wording maps the same.
@Suite struct ErrorMappingTests {
    private func code(_ error: any Error) -> ErrorCode { AdminDispatcher.protocolError(error).code }

    private func server(_ state: String, _ message: String = "refused") -> PostgresError {
        PostgresError(kind: .server, sqlState: state, message: message)
    }

    @Test func storeRefusalsKeepTheirMessage() {
        let notFound = AdminDispatcher.protocolError(StoreRefusal.notFound("no team \"x\""))
        #expect(notFound.code == .notFound && notFound.message == "no team \"x\"")
        let conflict = AdminDispatcher.protocolError(StoreRefusal.conflict("job 5 is running"))
        #expect(conflict.code == .conflict && conflict.message == "job 5 is running")
    }

    @Test func sqlStatesMapByCodeNotWording() {
        #expect(code(server("23505")) == .conflict)
        #expect(code(server("57014")) == .timeout)
        for state in ["22023", "22004", "22001", "22P02", "23503", "23514", "23502"] {
            #expect(code(server(state, "unknown thing")) == .invalidArgument, "\(state)")
            #expect(code(server(state, "something else entirely")) == .invalidArgument, "\(state)")
        }
        #expect(code(server("42P01")) == .internal)
        #expect(code(server("P0001")) == .internal)
    }

    @Test func connectionLossIsUnavailable() {
        #expect(code(PostgresError(kind: .connection, message: "could not connect")) == .unavailable)
        for state in ["08006", "08001", "57P01", "57P02", "57P03"] {
            #expect(code(server(state)) == .unavailable, "\(state)")
        }
    }

    @Test func protocolErrorsPassThroughAndOthersAreInternal() {
        let error = ProtocolError(.permissionDenied, "no")
        #expect(AdminDispatcher.protocolError(error) == error)
        struct Odd: Error {}
        #expect(code(Odd()) == .internal)
        #expect(code(PostgresError(kind: .decoding, message: "column \"x\" is NULL")) == .internal)
    }
}
