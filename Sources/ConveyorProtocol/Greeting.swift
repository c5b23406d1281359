/// The line the daemon sends first on every connection:
/// `{"hello":"conveyord","proto":1,"version":"…","role":"admin"}`.
public struct Greeting: Sendable, Equatable {
    /// The protocol version this module speaks.
    public static let currentProto = 1

    /// Protocol version of the daemon.
    public var proto: Int
    /// Version of the daemon software.
    public var version: String
    /// The role the daemon gave this connection, from the peer's kernel credentials.
    public var role: Role

    public init(version: String, role: Role, proto: Int = Greeting.currentProto) {
        self.proto = proto
        self.version = version
        self.role = role
    }

    /// The line as sent (no newline), keys in the order shown above.
    public func encodedLine() -> String {
        JSONValue.orderedObjectText([
            "hello": "conveyord", "proto": .int(Int64(proto)), "version": .string(version),
            "role": .string(role.rawValue),
        ])
    }

    /// Reads a greeting line.
    ///
    /// - Throws: `parse_error` for invalid JSON, `bad_request` for anything but a
    ///   `conveyord` greeting with an integer `proto`, a string `version` and a known `role`.
    public static func parse(line: String) throws(ProtocolError) -> Greeting {
        let value = try JSONValue(parsing: line)
        guard value["hello"] == "conveyord",
            let proto = value["proto"]?.intValue.flatMap(Int.init(exactly:)),
            let version = value["version"]?.stringValue,
            let role = value["role"]?.stringValue.flatMap(Role.init(rawValue:))
        else {
            throw ProtocolError(.badRequest, "not a conveyord greeting")
        }
        return Greeting(version: version, role: role, proto: proto)
    }
}
