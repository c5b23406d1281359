import ConveyorCore

/// One line from the daemon after the greeting: the response to a request, or an event of
/// a streaming command (`watch`).
///
/// Layouts, keys in exactly this order and `id` left out when `nil`:
/// `{"id":…,"ok":true,"result":…}`, `{"id":…,"ok":false,"error":{"code":"…","message":"…"}}`
/// and `{"id":…,"event":{…}}`.
public enum Response: Sendable, Equatable {
    case ok(id: JSONValue?, result: JSONValue)
    case error(id: JSONValue?, ProtocolError)
    case event(id: JSONValue?, JSONValue)

    /// The id of the request this line answers.
    public var id: JSONValue? {
        switch self {
        case .ok(let id, _), .error(let id, _), .event(let id, _): id
        }
    }

    /// The line as sent (no newline).
    public func encodedLine() -> String {
        switch self {
        case .ok(let id, let result):
            JSONValue.orderedObjectText(["id": id, "ok": true, "result": result])
        case .error(let id, let error):
            JSONValue.orderedObjectText([
                "id": id, "ok": false,
                "error": ["code": .string(error.code.rawValue), "message": .string(error.message)],
            ])
        case .event(let id, let event):
            JSONValue.orderedObjectText(["id": id, "event": event])
        }
    }

    /// Reads a line written by ``encodedLine()``; key order does not matter.
    ///
    /// - Throws: `parse_error` for invalid JSON, `bad_request` for JSON that is not one of
    ///   the three layouts or names an error code outside the closed set.
    public static func parse(line: String) throws(ProtocolError) -> Response {
        guard let members = try JSONValue(parsing: line).objectValue else {
            throw ProtocolError(.badRequest, "a response must be a JSON object")
        }
        let id = members["id"].flatMap { $0 == .null ? nil : $0 }
        if let event = members["event"] {
            return .event(id: id, event)
        }
        switch members["ok"] {
        case .bool(true)?:
            guard let result = members["result"] else {
                throw ProtocolError(.badRequest, "a response with \"ok\":true needs a \"result\"")
            }
            return .ok(id: id, result: result)
        case .bool(false)?:
            guard let error = members["error"],
                let code = error["code"]?.stringValue, let message = error["message"]?.stringValue
            else {
                throw ProtocolError(
                    .badRequest, "a response with \"ok\":false needs an \"error\" with a code and a message")
            }
            guard let errorCode = ErrorCode(rawValue: code) else {
                throw ProtocolError(.badRequest, "unknown error code \(Quoting.excerpt(code))")
            }
            return .error(id: id, ProtocolError(errorCode, message))
        default:
            throw ProtocolError(.badRequest, "a response needs \"ok\" (true or false) or an \"event\"")
        }
    }
}
