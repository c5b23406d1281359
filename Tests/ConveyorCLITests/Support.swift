@testable import ConveyorCLI
import ConveyorProtocol
import Foundation

/// The request `arguments` would send; fails the test (by throwing) for any other action.
func request(_ arguments: [String], environment: [String: String] = [:]) throws -> Request {
    guard case .run(let invocation) = try Action.parse(arguments, environment: environment) else {
        throw Unexpected("no request for \(arguments)")
    }
    return invocation.request
}

/// The invocation `arguments` parse to.
func invocation(_ arguments: [String], environment: [String: String] = [:]) throws -> Invocation {
    guard case .run(let invocation) = try Action.parse(arguments, environment: environment) else {
        throw Unexpected("no invocation for \(arguments)")
    }
    return invocation
}

/// The failure with which parsing `arguments` stops; `nil` when it succeeds.
func parseFailure(_ arguments: [String]) -> Failure? {
    do {
        _ = try Action.parse(arguments, environment: [:])
        return nil
    } catch {
        return error
    }
}

/// The text `arguments` print without contacting the daemon (help, completion scripts).
func printed(_ arguments: [String]) throws -> String {
    guard case .print(let text) = try Action.parse(arguments, environment: [:]) else {
        throw Unexpected("nothing printed for \(arguments)")
    }
    return text
}

struct Unexpected: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A fixed moment and a display without terminal: times relative to 2026-12-01 19:46:31Z.
let fixedNow = ISO8601DateFormatter().date(from: "2026-12-01T19:46:31Z")!

func plainDisplay(width: Int? = nil) -> Display {
    Display(now: fixedNow, width: width, color: false)
}

/// Parses JSON text in tests.
func json(_ text: String) throws -> JSONValue {
    try JSONValue(parsing: text)
}
