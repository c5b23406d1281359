import ConveyorProtocol
import Foundation
import FuzzSupport

/// `Request.parse(line:)` on any line the daemon's framing could hand it (valid UTF-8, no
/// newline): it throws or returns, never traps; a request it returns, re-encoded as one JSON line,
/// parses to the same request.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let line = String(validating: bytes(data, size), as: UTF8.self), !line.contains("\n") else { return 0 }
    _ = Request.echoID(fromLine: line)
    guard let request = try? Request.parse(line: line) else { return 0 }
    let encoded = request.encodedLine()
    expect(!encoded.contains("\n"), "the encoded request is more than one line: \(encoded)")
    do {
        let again = try Request.parse(line: encoded)
        expect(again == request, "\(encoded) parses to \(again), not \(request)")
    } catch {
        expect(false, "the encoded request \(encoded) does not parse: \(error)")
    }
    return 0
}

exit(runFuzzer(testOneInput))
