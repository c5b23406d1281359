/// The sample lines of a Prometheus text exposition for metric `name`, as
/// `labels → value` (`""` for a sample without labels).
func samples(_ text: String, _ name: String) -> [String: Double] {
    var found: [String: Double] = [:]
    for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        found[String(line[line.index(line.startIndex, offsetBy: name.count)..<space])] = value
    }
    return found
}
