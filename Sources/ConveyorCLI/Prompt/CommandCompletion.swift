/// What Tab completes at the prompt: command names word by word, every spelling the command
/// line takes (``FriendlyCommands/spellings``: `rep`, `rep.add`, `alerts`, `status`, then
/// `add` after `rep`), and the prompt's own words.
enum CommandCompletion {
    /// The names that may follow `words`.
    static func candidates(after words: [String]) -> [String] {
        let names = FriendlyCommands.spellings.compactMap { spelling in
            spelling.words.count > words.count && spelling.words.starts(with: words) ? spelling.words[words.count] : nil
        }
        return Array(Set(names + (words.isEmpty ? Prompt.localCommands : [])))
    }
}
