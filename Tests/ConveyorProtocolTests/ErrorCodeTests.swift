import ConveyorProtocol
import Testing

@Suite struct ErrorCodeTests {
    /// The closed set, copied from docs/protocol.md.
    static let specCodes: Set<String> = [
        "parse_error", "bad_request", "unknown_command", "invalid_argument", "not_found", "conflict",
        "permission_denied", "too_large", "too_many_connections", "unavailable", "timeout", "shutting_down", "internal",
    ]

    @Test func exactlyTheSpecSet() {
        #expect(Set(ErrorCode.allCases.map(\.rawValue)) == Self.specCodes)
        #expect(ErrorCode.allCases.count == Self.specCodes.count)
    }

    @Test func exitCodesAreDistinctAndClearOfTheCLIsOwn() {
        let exitCodes = ErrorCode.allCases.map(\.exitCode)
        #expect(Set(exitCodes).count == exitCodes.count)
        #expect(exitCodes.allSatisfy { (10...22).contains($0) })
    }

    @Test func documentedTable() {
        let table: [ErrorCode: Int32] = [
            .parseError: 10, .badRequest: 11, .unknownCommand: 12, .invalidArgument: 13, .notFound: 14, .conflict: 15,
            .permissionDenied: 16, .tooLarge: 17, .tooManyConnections: 18, .unavailable: 19, .timeout: 20,
            .shuttingDown: 21, .internal: 22,
        ]
        for code in ErrorCode.allCases {
            #expect(code.exitCode == table[code])
        }
    }

    @Test func description() {
        #expect(ProtocolError(.conflict, "team exists").description == "conflict: team exists")
    }
}
