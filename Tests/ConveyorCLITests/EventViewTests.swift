@testable import ConveyorCLI
import ConveyorProtocol
import Testing

/// `conveyorctl watch` prints one line per event for people.
@Suite struct EventViewTests {
    func line(_ text: String) throws -> String? {
        EventView.line(try json(text), display: plainDisplay())
    }

    @Test func handoffs() throws {
        #expect(try line(#"{"type":"handoff","id":42,"team":"rail","account":"acme","from":"ivan","to":"olga","kind":"auto","at":"2026-11-29T10:15:00Z"}"#)
            == "2026-11-29 10:15:00Z  handoff  rail/acme  ivan → olga  (auto)")
        #expect(try line(#"{"type":"handoff","id":43,"team":"rail","account":"beta","from":null,"to":"olga","kind":"manual","at":"2026-11-29T10:16:00Z"}"#)
            == "2026-11-29 10:16:00Z  handoff  rail/beta  - → olga  (manual)")
    }

    @Test func alerts() throws {
        #expect(try line(#"{"type":"alert","id":7,"team":"rail","account":"beta","rep":"olga","kind":"single_threaded","severity":"high","status":"open"}"#)
            == "2026-12-01 19:46:31Z  alert  #7  rail/beta  single_threaded  high  open  rep olga")
        #expect(try line(#"{"type":"alert","id":8,"team":"rail","account":null,"rep":null,"kind":"no_backup","severity":"low","status":"resolved"}"#)
            == "2026-12-01 19:46:31Z  alert  #8  rail/-  no_backup  low  resolved")
    }

    @Test func otherEventsAndProgress() throws {
        #expect(try line(#"{"type":"jobs_enqueued"}"#) == "2026-12-01 19:46:31Z  jobs_enqueued")
        #expect(try line(#"{"drain":{"in_flight":1,"waited_ms":1000}}"#) == "2026-12-01 19:46:31Z  drain.in_flight=1  drain.waited_ms=1000")
        #expect(try line(#"{"type":"heartbeat","at":"2026-11-29T10:15:30Z"}"#) == nil)
    }

    @Test func hostileEventsAreEscaped() throws {
        let shown = try #require(try line(#"{"type":"handoff","team":"rail","account":"\u001b]0;owned\u0007","from":"\u202eivan","to":"olga","kind":"auto"}"#))
        #expect(!shown.unicodeScalars.contains { TerminalText.needsEscape($0) })
        #expect(shown.contains("rail/\\x1b]0;owned\\x07  \\u{202E}ivan → olga"))
    }
}
