import Glibc

/// Writes to standard output or error, all of it, retrying short writes.
enum Output {
    static func write(_ text: String, to descriptor: Int32 = STDOUT_FILENO) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if count >= 0 {
                bytes = bytes.dropFirst(count)
            } else if errno != EINTR {
                return
            }
        }
    }

    /// `text` on standard output, ending with a newline.
    static func print(_ text: String) {
        write(text.hasSuffix("\n") ? text : text + "\n")
    }

    /// `conveyorctl: <message>` on standard error, the message escaped for the terminal.
    static func complain(_ failure: Failure) {
        write("conveyorctl: " + TerminalText.escapedLines(failure.message) + "\n", to: STDERR_FILENO)
    }
}
