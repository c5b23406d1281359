@testable import ConveyorCLI
import ConveyorProtocol
import Foundation
import Testing

/// Values as people read them: flattened, joined, times relative to an injected now.
@Suite struct CellTextTests {
    func cell(_ value: JSONValue, _ key: String) -> String {
        CellText.cell(value, key: key, display: plainDisplay()).text
    }

    @Test func nestedObjectsBecomeDottedKeys() throws {
        let leaves = Flattening.leaves(try json(#"{"b":{"y":{"deep":1},"x":true},"a":null,"c":{}}"#).objectValue ?? [:])
        #expect(leaves.map(\.key) == ["a", "b.x", "b.y.deep", "c"])
        #expect(leaves.map(\.value) == [.null, true, 1, .object([:])])
    }

    @Test func arraysAndEmptyValues() throws {
        #expect(cell(["rail", "customs"], "skills") == "rail,customs")
        #expect(cell([], "skills") == "-")
        #expect(cell(.null, "name") == "-")
        #expect(cell("", "name") == "\"\"")
        #expect(cell(.object([:]), "queue") == "-")
        #expect(cell(try json(#"[{"rep":"olga","share":0.85},{"rep":"ivan","share":0.1}]"#), "top_people") == "rep=olga share=0.85; rep=ivan share=0.1")
        #expect(cell(try json(#"[{"to":{"ref":"olga"}}]"#), "moves") == "to.ref=olga")
        #expect(cell(1.5, "share") == "1.5")
        #expect(cell(false, "paused") == "false")
    }

    @Test func hostileStringsAreEscapedWherEverTheyAre() throws {
        #expect(cell("\u{1B}[2J", "ref") == "\\x1b[2J")
        #expect(cell(["ok", "\u{202E}x"], "skills") == "ok,\\u{202E}x")
        #expect(cell(try json(#"[{"r\u001bef":"a\rb"}]"#), "rows") == "r\\x1bef=a\\rb")
    }

    @Test(arguments: [
        ("2026-12-01T19:43:31.000Z", "2026-12-01 19:43:31Z (3 min ago)"),
        ("2026-12-01T19:46:31Z", "2026-12-01 19:46:31Z (now)"),
        ("2026-12-01T19:46:40Z", "2026-12-01 19:46:40Z (in 9 s)"),
        ("2026-12-01T21:46:31Z", "2026-12-01 21:46:31Z (in 2 h)"),
        ("2026-11-29T19:46:32Z", "2026-11-29 19:46:32Z (47 h ago)"),
        ("2026-11-20T19:46:31Z", "2026-11-20 19:46:31Z (11 d ago)"),
        ("2026-12-01T20:46:31+01:00", "2026-12-01 19:46:31Z (now)"),
    ])
    func timesAreUTCWithHowLongAgo(iso: String, shown: String) {
        #expect(cell(.string(iso), "last_seen_at") == shown)
        #expect(cell(.string(iso), "until") == shown)
    }

    @Test func onlyTimeKeysAreReadAsTimes() {
        #expect(cell("2026-12-01T19:43:31.000Z", "ref") == "2026-12-01T19:43:31.000Z")
        #expect(cell("soon", "run_at") == "soon")
        #expect(cell("2026-12-02T02:00:00", "next_scan.local") == "2026-12-02T02:00:00")
    }

    @Test func farFutureIsWaitingForCapacityOrNever() {
        #expect(cell("4001-01-01T00:00:00.000Z", "run_at") == "waiting for capacity")
        #expect(cell("4001-01-01T00:00:00.000Z", "away_until") == "never")
        #expect(cell("3999-12-31T00:00:00.000Z", "away_until").hasPrefix("3999-12-31 00:00:00Z (in "))
    }

    @Test(arguments: [(0.4, "0 s"), (42.9, "42 s"), (725, "12 min 5 s"), (11520.5, "3 h 12 min"), (183_600, "2 d 3 h")])
    func secondsAreDurations(seconds: Double, shown: String) {
        #expect(cell(.double(seconds), "uptime_seconds") == shown)
    }
}
