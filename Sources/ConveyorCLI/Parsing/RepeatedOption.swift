/// argument-parser keeps the last of a repeated option; conveyorctl refuses it instead, so
/// `--team rail … --team customs` cannot quietly act on the second team.
enum RepeatedOption {
    /// The first option of `spelling` that `arguments` give more than once, without `--`.
    ///
    /// A word `--name` or `--name=…` before a `--` is always that option (argument-parser
    /// never takes a word starting with `-` as an option's value).
    static func find(_ spelling: FriendlySpelling, in arguments: [String]) -> String? {
        let words = arguments.prefix { $0 != "--" }
        return spelling.options.map(\.name).first { name in
            words.count { $0 == "--" + name || $0.hasPrefix("--" + name + "=") } > 1
        }
    }
}
