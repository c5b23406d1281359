import ConveyorCore

/// One request line from a client: a command name, its arguments and an optional id that
/// the response echoes.
///
/// Two spellings are accepted. A line whose first non-blank character is `{` is JSON:
/// `{"id":"c1","cmd":"rep.add","args":{"team":"rail"}}`. Any other line is words, for typing
/// by hand through `socat` or `nc`: `rep.add team=rail name="Ivan Petrov"`.
public struct Request: Sendable, Equatable {
    /// Echoed in the response; a string or a number (JSON form only).
    public var id: JSONValue?
    /// The command name: 1 to 100 characters from `a-z 0-9 . _ -`.
    public var cmd: String
    /// The arguments. In the words form every value is a string.
    public var args: [String: JSONValue]

    public init(id: JSONValue? = nil, cmd: String, args: [String: JSONValue] = [:]) {
        self.id = id
        self.cmd = cmd
        self.args = args
    }

    /// Parses one request line (without its newline; a trailing `\r` is tolerated).
    ///
    /// JSON form: the object must have a string `cmd`; `id`, if present and not `null`,
    /// must be a string or a number; `args`, if present and not `null`, must be an object.
    /// Other members are ignored, so clients may add fields that newer daemons understand.
    ///
    /// Words form: words are separated by unquoted whitespace; the first is the command,
    /// every further word is `key=value`, split at its first `=` (`key=` gives an empty
    /// string). As in a shell, double quotes may enclose any part of a word and are removed,
    /// so `name="Ivan Petrov"` and `"name=Ivan Petrov"` are the same; inside quotes `\"`,
    /// `\\`, `\n`, `\t` and `\r` are escapes and a backslash before any other character
    /// stands for that character. A key may appear once.
    ///
    /// The command name is only checked for its form here; whether it exists is
    /// ``CommandCatalog``'s business.
    ///
    /// - Throws: `parse_error` for invalid JSON or an unterminated quote; `bad_request`
    ///   for a blank line or a well-formed line that is not a valid request.
    public static func parse(line: String) throws(ProtocolError) -> Request {
        guard let first = line.unicodeScalars.first(where: { !$0.properties.isWhitespace }) else {
            throw ProtocolError(.badRequest, "empty request")
        }
        return first == "{" ? try parseJSON(line) : try parseWords(line)
    }

    /// The id of a JSON request line that ``parse(line:)`` rejected, if the line is a JSON
    /// object with a usable `id`, so that the error response can still echo it.
    public static func echoID(fromLine line: String) -> JSONValue? {
        guard let value = try? JSONValue(parsing: line) else { return nil }
        return try? requestID(value["id"])
    }

    /// The request as one JSON line (no newline): `{"id":…,"cmd":"…","args":{…}}`, the
    /// `id` left out when `nil`.
    public func encodedLine() -> String {
        JSONValue.orderedObjectText(["id": id, "cmd": .string(cmd), "args": .object(args)])
    }

    private static func parseJSON(_ line: String) throws(ProtocolError) -> Request {
        guard let members = try JSONValue(parsing: line).objectValue else {
            throw ProtocolError(.badRequest, "a request must be a JSON object")
        }
        let id = try requestID(members["id"])
        guard let cmd = members["cmd"]?.stringValue else {
            throw ProtocolError(.badRequest, "\"cmd\" must be a string")
        }
        try checkCommandName(cmd)
        let args: [String: JSONValue]
        switch members["args"] {
        case nil, .null?: args = [:]
        case .object(let object)?: args = object
        default: throw ProtocolError(.badRequest, "\"args\" must be an object")
        }
        return Request(id: id, cmd: cmd, args: args)
    }

    private static func requestID(_ value: JSONValue?) throws(ProtocolError) -> JSONValue? {
        switch value {
        case nil, .null?: return nil
        case .string?, .int?: return value
        // Beyond 2^53 a double no longer holds every integer: echoed, it would not be the id sent.
        case .double(let number)? where abs(number) < 9_007_199_254_740_992: return value
        case .double?: throw ProtocolError(.badRequest, "\"id\" must be a string, an integer of 64 bits or a number below 2^53")
        default: throw ProtocolError(.badRequest, "\"id\" must be a string or a number")
        }
    }

    private static func parseWords(_ line: String) throws(ProtocolError) -> Request {
        let words = try Self.words(of: line)
        let command = words.first ?? ""
        try checkCommandName(command)
        var args: [String: JSONValue] = [:]
        for word in words.dropFirst() {
            guard let equals = word.unicodeScalars.firstIndex(of: "=") else {
                throw ProtocolError(.badRequest, "expected key=value, got \(Quoting.excerpt(word))")
            }
            let key = String(word.unicodeScalars[..<equals])
            guard !key.isEmpty else {
                throw ProtocolError(.badRequest, "argument name missing in \(Quoting.excerpt(word))")
            }
            let value = String(word.unicodeScalars[word.unicodeScalars.index(after: equals)...])
            guard args.updateValue(.string(value), forKey: key) == nil else {
                throw ProtocolError(.badRequest, "argument \(Quoting.excerpt(key)) given twice")
            }
        }
        return Request(cmd: command, args: args)
    }

    /// The words of a line in the words form, split as ``parse(line:)`` splits them: at
    /// unquoted whitespace, quotes removed, escapes resolved (conveyorctl's prompt reads
    /// lines with it).
    ///
    /// - Throws: `parse_error` for an unterminated quote.
    public static func words(of line: String) throws(ProtocolError) -> [String] {
        var words: [String] = []
        var word = String.UnicodeScalarView()
        var inWord = false
        var quoted = false
        var scalars = line.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            if quoted {
                switch scalar {
                case "\"":
                    quoted = false
                case "\\":
                    guard let escaped = scalars.next() else { break }
                    word.append(unescaped(escaped))
                default:
                    word.append(scalar)
                }
            } else if scalar.properties.isWhitespace {
                if inWord { words.append(String(word)) }
                word = String.UnicodeScalarView()
                inWord = false
            } else {
                inWord = true
                if scalar == "\"" { quoted = true } else { word.append(scalar) }
            }
        }
        guard !quoted else { throw ProtocolError(.parseError, "unterminated quote") }
        if inWord { words.append(String(word)) }
        return words
    }

    private static func unescaped(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar {
        case "n": "\n"
        case "t": "\t"
        case "r": "\r"
        default: scalar
        }
    }

    private static func checkCommandName(_ name: String) throws(ProtocolError) {
        let allowed = name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
        guard allowed, (1...100).contains(name.utf8.count) else {
            throw ProtocolError(
                .badRequest,
                "invalid command name \(Quoting.excerpt(name)): use 1 to 100 characters from a-z 0-9 . _ -")
        }
    }
}
