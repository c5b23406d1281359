/// Which long options the words of a command line give, read as argument-parser reads them:
/// a word `--name` or `--name=…` before a `--` is always that option (argument-parser never
/// takes a word starting with `-` as an option's value).
enum OptionWords {
    /// The first of `names` (without `--`) that `arguments` give more than once.
    ///
    /// argument-parser keeps the last of a repeated option; conveyorctl refuses it instead, so
    /// `--team rail … --team customs` cannot quietly act on the second team.
    static func firstRepeated(_ names: [String], in arguments: [String]) -> String? {
        names.first { count(of: $0, in: arguments) > 1 }
    }

    /// The first of `names` (without `--`) that `arguments` give at all.
    static func firstGiven(_ names: [String], in arguments: [String]) -> String? {
        names.first { count(of: $0, in: arguments) > 0 }
    }

    private static func count(of name: String, in arguments: [String]) -> Int {
        arguments.prefix { $0 != "--" }.count { $0 == "--" + name || $0.hasPrefix("--" + name + "=") }
    }
}
