import ConveyorCore
import ConveyorProtocol
import Foundation

extension JSONValue {
    /// Any `Encodable` record as a JSON value, dates as ``ISO8601`` strings:
    /// how the commands and events answer with the store's records.
    init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601.string(date))
        }
        try self.init(parsing: String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
