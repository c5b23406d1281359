import ConveyorCore
import ConveyorProtocol

/// The arguments of a request from the options and the `key=value` words, checked.
enum ArgumentWords {
    /// No argument of any command is near this; a longer one is a mistake (or an attack).
    static let maxValueBytes = 64 << 10

    /// Every value a string, as in the protocol's words form; a word is split at its first `=`.
    ///
    /// - Throws: a usage ``Failure`` for a word without `=` or with an empty key, an argument
    ///   given twice (as words or as an option and a word), a value over ``maxValueBytes``,
    ///   and control characters in keys or values (no command takes them).
    static func arguments(
        options: [(argument: String, value: String)], pairs: [String]
    ) throws(Failure) -> [String: JSONValue] {
        var arguments: [String: JSONValue] = [:]
        for (key, value) in options {
            try add(key, value, to: &arguments)
        }
        for word in pairs {
            let scalars = word.unicodeScalars
            guard let equals = scalars.firstIndex(of: "="), equals != scalars.startIndex else {
                throw Failure.usage("expected key=value after the command, got \(Quoting.excerpt(word))")
            }
            try add(String(scalars[..<equals]), String(scalars[scalars.index(after: equals)...]), to: &arguments)
        }
        return arguments
    }

    private static func add(_ key: String, _ value: String, to arguments: inout [String: JSONValue]) throws(Failure) {
        guard !hasControlCharacter(key) else {
            throw Failure.usage("argument name \(Quoting.excerpt(key)) contains a control character")
        }
        guard value.utf8.count <= maxValueBytes else {
            throw Failure.usage("argument '\(key)' is longer than \(maxValueBytes >> 10) KiB")
        }
        guard !hasControlCharacter(value) else {
            throw Failure.usage("argument '\(key)' contains a control character: \(Quoting.excerpt(value))")
        }
        guard arguments.updateValue(.string(value), forKey: key) == nil else {
            throw Failure.usage("argument '\(key)' given twice")
        }
    }

    private static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
