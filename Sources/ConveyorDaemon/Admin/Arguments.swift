import ConveyorCore
import ConveyorProtocol
import Foundation

/// A request's arguments with typed accessors that fail as `invalid_argument`.
///
/// Values may arrive as JSON strings, numbers or booleans (the words form
/// sends everything as strings); each accessor accepts both spellings.
public struct Arguments: Sendable {
    public let values: [String: JSONValue]

    public init(_ values: [String: JSONValue]) { self.values = values }

    public func optionalString(_ name: String) throws(ProtocolError) -> String? {
        switch values[name] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case .int(let number)?: return String(number)
        case .double(let number)?: return String(number)
        case .bool(let flag)?: return String(flag)
        default: throw ProtocolError(.invalidArgument, "\(name) must be a string")
        }
    }

    public func string(_ name: String) throws(ProtocolError) -> String {
        guard let text = try optionalString(name), !text.isEmpty else {
            throw ProtocolError(.invalidArgument, "\(name) is required")
        }
        return text
    }

    public func optionalInt(_ name: String, in range: ClosedRange<Int64>) throws(ProtocolError) -> Int64? {
        guard let value = values[name], value != .null else { return nil }
        let number: Int64? = switch value {
        case .int(let number): number
        case .string(let text): Int64(text.trimmingCharacters(in: .whitespaces))
        default: nil
        }
        guard let number, range.contains(number) else {
            throw ProtocolError(.invalidArgument, "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// The string argument `name`, which must be one of `allowed` when given.
    public func optionalString(_ name: String, oneOf allowed: [String]) throws(ProtocolError) -> String? {
        let value = try optionalString(name)
        if let value, !allowed.contains(value) {
            throw ProtocolError(.invalidArgument, "\(name) must be one of \(allowed.joined(separator: ", "))")
        }
        return value
    }

    /// `true`/`false` (also as the words form's strings), nil when absent.
    public func optionalBool(_ name: String) throws(ProtocolError) -> Bool? {
        switch values[name] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case .string("true")?: return true
        case .string("false")?: return false
        default: throw ProtocolError(.invalidArgument, "\(name) must be true or false")
        }
    }

    public func int(_ name: String, in range: ClosedRange<Int64>) throws(ProtocolError) -> Int64 {
        guard let number = try optionalInt(name, in: range) else {
            throw ProtocolError(.invalidArgument, "\(name) is required")
        }
        return number
    }
}

/// Runs a validator of `Validate`, turning its error into `invalid_argument`.
func valid<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ValidationError {
        throw ProtocolError(.invalidArgument, error.description)
    }
}
