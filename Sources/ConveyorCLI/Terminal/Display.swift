import Foundation
import Glibc

/// How results are shown: the moment times are relative to, the terminal's width (`nil`:
/// not a terminal, nothing is cut) and whether to colour.
struct Display: Sendable {
    var now: Date
    var width: Int?
    var color: Bool

    /// For standard output as it is: width from `TIOCGWINSZ` and colour when it is a
    /// terminal, never colour when `NO_COLOR` is set and not empty.
    static func standardOutput(environment: [String: String]) -> Display {
        let terminal = isatty(STDOUT_FILENO) == 1
        var size = winsize()
        let measured = ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0
        return Display(
            now: Date(), width: terminal ? (measured ? Int(size.ws_col) : 80) : nil,
            color: wantsColor(terminal: terminal, environment: environment))
    }

    /// Colour on a terminal, unless `NO_COLOR` is set to anything but the empty string.
    static func wantsColor(terminal: Bool, environment: [String: String]) -> Bool {
        terminal && (environment["NO_COLOR"] ?? "").isEmpty
    }

    /// `text` in `tint` when colouring.
    func paint(_ text: String, _ tint: Tint?) -> String {
        guard color, let tint, !text.isEmpty else { return text }
        return "\u{1B}[\(tint.rawValue)m" + text + "\u{1B}[0m"
    }
}

/// The few colours conveyorctl uses (SGR parameters).
enum Tint: String, Sendable {
    case bold = "1"
    case dim = "2"
    case red = "31"
    case yellow = "33"
}
