import ConveyorProtocol

/// Nested objects as dotted keys, so that tables and field lists never show JSON:
/// `{"database":{"reachable":true}}` is `database.reachable` = `true`.
enum Flattening {
    /// The values under `members` that are not non-empty objects, keyed by their dotted
    /// path and sorted by it. Arrays stay values (see ``CellText``).
    static func leaves(_ members: [String: JSONValue], prefix: String = "") -> [(key: String, value: JSONValue)] {
        members.sorted { $0.key < $1.key }.flatMap { key, value -> [(key: String, value: JSONValue)] in
            if let nested = value.objectValue, !nested.isEmpty {
                return leaves(nested, prefix: prefix + key + ".")
            }
            return [(prefix + key, value)]
        }
    }

    /// The rows, if `value` is an array of objects (an empty array counts).
    static func rows(_ value: JSONValue) -> [[String: JSONValue]]? {
        guard let elements = value.arrayValue else { return nil }
        let rows = elements.compactMap(\.objectValue)
        return rows.count == elements.count ? rows : nil
    }
}
