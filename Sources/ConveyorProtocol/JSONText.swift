import ConveyorCore
import Foundation

// Reading and writing JSON text. Writing is done by hand so that the output is fixed
// (sorted keys, no spaces, integers without a fraction) and always exactly one line;
// reading goes through `JSONSerialization`, whose numbers still tell `1` from `1.0` and
// `true` from `1`, and which rejects nesting deeper than 512 levels instead of recursing
// without bound.

extension JSONValue {
    /// The value as compact JSON text: one line, no insignificant spaces, object keys in
    /// sorted order, valid UTF-8.
    ///
    /// Control characters (C0, DEL, C1) and U+2028/U+2029 are written as `\uXXXX`
    /// escapes, so the text never contains a line break of any kind and survives line
    /// splitters that treat Unicode separators as newlines. JSON has no NaN or infinity:
    /// such doubles are written as `null`.
    public var compactString: String {
        var text = ""
        write(to: &text)
        return text
    }

    /// Parses one JSON text (an object, array or scalar; surrounding whitespace allowed).
    /// Foundation's parser tolerates a trailing comma before `]` or `}`; nothing else
    /// outside RFC 8259 is accepted. A key that appears twice in one object is refused
    /// (Foundation would keep one of them silently: `{"cmd":"ping","cmd":"shutdown"}`).
    ///
    /// - Throws: `parse_error` when `text` is not valid JSON, nests deeper than 512 levels
    ///   or repeats a key.
    public init(parsing text: String) throws(ProtocolError) {
        // JSON text never holds a raw NUL, and Foundation reads NULs among the
        // first bytes as a sign of UTF-16: the text must be parsed as the UTF-8 it is.
        guard !text.utf8.contains(0) else { throw ProtocolError(.parseError, "invalid JSON: a NUL byte") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw ProtocolError(.parseError, "invalid JSON" + (detail.map { ": \($0)" } ?? ""))
        }
        if let key = Self.repeatedKey(in: text) {
            throw ProtocolError(.parseError, "invalid JSON: the key \(Quoting.excerpt(key)) appears twice in one object")
        }
        self.init(foundationObject: parsed)
    }

    /// The first key that some object of `text` (valid JSON) has twice, compared
    /// after unescaping, so `"cmd"` and `"\u0063md"` are the same key.
    private static func repeatedKey(in text: String) -> String? {
        let bytes = Array(text.utf8)
        // One entry per open container: the keys seen so far, nil for an array.
        var containers: [Set<String>?] = []
        var awaitingKey = false
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "{"):
                containers.append([])
                awaitingKey = true
            case UInt8(ascii: "["):
                containers.append(nil)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                // never empty for valid JSON; a text read otherwise has no verdict here
                guard containers.popLast() != nil else { return nil }
                awaitingKey = false
            case UInt8(ascii: ","):
                awaitingKey = containers.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                let start = index
                var escaped = false
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") || escaped {
                    escaped = !escaped && bytes[index] == UInt8(ascii: "\\")
                    index += 1
                }
                if awaitingKey, var keys = containers.last ?? nil {
                    let raw = bytes[start...min(index, bytes.count - 1)]
                    let key = raw.contains(UInt8(ascii: "\\"))
                        ? (try? JSONSerialization.jsonObject(with: Data(raw), options: [.fragmentsAllowed])) as? String ?? ""
                        : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                    guard keys.insert(key).inserted else { return key }
                    containers[containers.count - 1] = keys
                    awaitingKey = false
                }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// Converts what `JSONSerialization` returns. Its `NSNumber`s carry their origin in
    /// `objCType`: `c` for `true`/`false`, `d` for numbers written with a fraction or
    /// exponent, `Q` for integers above `Int64.max`, an integer type otherwise. Numbers
    /// with more digits than a double holds come as `NSDecimalNumber`, fractions among them
    /// (`1844674407370956.0`) and `Int64.min`: only `Int64.min` is an integer, the rest
    /// become the double nearest to their digits (the decimal's own `doubleValue` is not;
    /// found by fuzzing, as was `1844674407370956.0` read back as an integer).
    private init(foundationObject object: Any) {
        switch object {
        case let string as String:
            self = .string(string)
        case let decimal as NSDecimalNumber:
            // Its digits drop a fraction of zeros, so -9223372036854775808.0 is Int64.min too.
            let digits = decimal.stringValue
            self = digits == String(Int64.min) ? .int(.min) : .double(Double(digits) ?? decimal.doubleValue)
        case let number as NSNumber:
            switch UInt8(bitPattern: number.objCType.pointee) {
            case UInt8(ascii: "c"): self = .bool(number.boolValue)
            case UInt8(ascii: "d"), UInt8(ascii: "f"), UInt8(ascii: "Q"): self = .double(number.doubleValue)
            default: self = .int(number.int64Value)
            }
        case let array as [Any]:
            self = .array(array.map(JSONValue.init(foundationObject:)))
        case let object as [String: Any]:
            self = .object(object.mapValues(JSONValue.init(foundationObject:)))
        default:
            self = .null  // NSNull, the only other thing JSONSerialization produces
        }
    }

    /// Writes an object whose members appear in the given order instead of sorted; members
    /// whose value is `nil` are left out. Used for the protocol's fixed line layouts.
    static func orderedObjectText(_ members: KeyValuePairs<String, JSONValue?>) -> String {
        var text = "{"
        var separator = ""
        for (key, value) in members {
            guard let value else { continue }
            text += separator
            separator = ","
            writeString(key, to: &text)
            text += ":"
            value.write(to: &text)
        }
        return text + "}"
    }

    private func write(to text: inout String) {
        switch self {
        case .null:
            text += "null"
        case .bool(let value):
            text += value ? "true" : "false"
        case .int(let value):
            text += String(value)
        case .double(let value):
            // Swift's shortest round-trip form ("1.0", "1e+20", "-0.0") is valid JSON.
            text += value.isFinite ? value.description : "null"
        case .string(let value):
            Self.writeString(value, to: &text)
        case .array(let elements):
            text += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { text += "," }
                element.write(to: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (index, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { text += "," }
                Self.writeString(member.key, to: &text)
                text += ":"
                member.value.write(to: &text)
            }
            text += "}"
        }
    }

    private static func writeString(_ string: String, to text: inout String) {
        Quoting.appendJSONString(string, to: &text)
    }
}

extension JSONValue: CustomStringConvertible {
    /// The ``compactString``.
    public var description: String { compactString }
}
