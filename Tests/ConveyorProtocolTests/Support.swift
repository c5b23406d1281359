import ConveyorProtocol

/// The code of the `ProtocolError` `body` throws; `nil` if it succeeds or throws anything else.
func thrownCode<T>(_ body: () throws -> T) -> ErrorCode? {
    do {
        _ = try body()
        return nil
    } catch {
        return (error as? ProtocolError)?.code
    }
}

/// The code with which `Request.parse` rejects `line`, or `nil` if it accepts it.
func requestErrorCode(_ line: String) -> ErrorCode? {
    thrownCode { try Request.parse(line: line) }
}

/// Whether `text` holds no line feed or carriage return byte, i.e. is safe as one protocol line.
func isOneLine(_ text: String) -> Bool {
    !text.utf8.contains { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
}
