import ConveyorProtocol
import Foundation
import FuzzSupport

/// `Request.words(of:)` on any line: it throws or returns, never traps, and splits only at
/// whitespace outside quotes. Checked against ``pieces(of:)``, a plain splitter: each piece
/// is one word, a line without quotes splits as at whitespace, and the words, quoted again,
/// read back the same.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let line = String(decoding: bytes(data, size), as: UTF8.self)
    guard let words = try? Request.words(of: line) else { return 0 }
    let pieces = pieces(of: line)
    expect(words.count == pieces.count, "\(words) from \(pieces.count) pieces of unquoted-whitespace-free text: \(pieces)")
    for (word, piece) in zip(words, pieces) {
        expect((try? Request.words(of: piece)) == [word], "the piece \(String(reflecting: piece)) is not the word \(String(reflecting: word))")
    }
    if !line.unicodeScalars.contains("\"") {
        let plain = line.unicodeScalars.split(whereSeparator: \.properties.isWhitespace).map { String($0) }
        expect(words == plain, "\(words) from a line without quotes, not \(plain)")
    }
    let requoted = words.map(quoted).joined(separator: " ")
    expect((try? Request.words(of: requoted)) == words, "\(words) quoted again as \(requoted) reads differently")
    return 0
}

/// The line cut at whitespace outside double quotes (inside them a backslash escapes the next
/// character), empty pieces dropped.
func pieces(of line: String) -> [String] {
    var pieces: [String] = []
    var piece = String.UnicodeScalarView()
    var quoted = false
    var escaped = false
    for scalar in line.unicodeScalars {
        if !quoted, scalar.properties.isWhitespace {
            if !piece.isEmpty { pieces.append(String(piece)) }
            piece = String.UnicodeScalarView()
            continue
        }
        piece.append(scalar)
        if escaped {
            escaped = false
        } else if quoted, scalar == "\\" {
            escaped = true
        } else if scalar == "\"" {
            quoted.toggle()
        }
    }
    if !piece.isEmpty { pieces.append(String(piece)) }
    return pieces
}

/// `word` in double quotes, `"` and `\` escaped.
func quoted(_ word: String) -> String {
    var text = "\""
    for scalar in word.unicodeScalars {
        if scalar == "\"" || scalar == "\\" { text.unicodeScalars.append("\\") }
        text.unicodeScalars.append(scalar)
    }
    return text + "\""
}

exit(runFuzzer(testOneInput))
