import Glibc

/// The terminal on standard input in raw mode (no echo, no line editing, keys such as
/// Ctrl-C arriving as bytes) while a line is read, and as it was again afterwards, so
/// that the results print as usual.
enum RawMode {
    /// `body`'s value, run in raw mode; `nil` when standard input cannot be put in raw mode.
    static func during<T>(_ body: () -> T) -> T? {
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return nil }
        var raw = original
        raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        raw.c_cflag |= tcflag_t(CS8)
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0 else { return nil }
        defer { tcsetattr(STDIN_FILENO, TCSAFLUSH, &original) }
        return body()
    }

    /// The next byte of standard input; `nil` at its end.
    static func readByte() -> UInt8? {
        var byte: UInt8 = 0
        while true {
            let count = read(STDIN_FILENO, &byte, 1)
            if count == 1 { return byte }
            if count < 0 && errno == EINTR { continue }
            return nil
        }
    }
}
