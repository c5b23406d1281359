// conveyorctl: the admin client of conveyord. Usage, options and exit statuses are in
// `Invocation.helpText()` (`conveyorctl --help`).

import ConveyorCore
import ConveyorProtocol
import Glibc

/// Writes all of `text` to `descriptor`, retrying short writes.
func emit(_ text: String, to descriptor: Int32 = STDOUT_FILENO) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if count >= 0 {
            bytes = bytes.dropFirst(count)
        } else if errno != EINTR {
            return
        }
    }
}

/// Connects, checks the greeting, sends the request and prints what comes back.
///
/// Every line after the greeting must be a response or an event for our request; anything
/// else is a protocol violation (`internal`). A streaming command (`watch`) prints each
/// event as one compact JSON line as it arrives, ignores an `ok` acknowledgement, and ends
/// with status 0 when the daemon closes the connection (Ctrl-C ends it by the signal).
func run(_ invocation: Invocation) throws(Failure) {
    let request = invocation.request
    let deadline = invocation.timeout.map { ContinuousClock.now + $0 }
    let connection = try AdminConnection(path: invocation.socketPath, timeout: invocation.timeout)

    guard let greeting = try connection.readLine(until: deadline) else {
        throw Failure(.unavailable, "the daemon closed the connection without a greeting")
    }
    try check(greeting: greeting)

    // If the daemon hangs up while we send (say, `too_large`), its last line may still be
    // readable and says more than the failed send.
    var sendFailure: Failure?
    do {
        try connection.send(line: request.encodedLine(), until: deadline)
    } catch {
        sendFailure = error
    }

    let streams = CommandCatalog.spec(named: request.cmd)?.streams ?? false
    while let line = try connection.readLine(until: streams ? nil : deadline) {
        let response: Response
        do {
            response = try Response.parse(line: line)
        } catch {
            throw Failure(.internal, "unexpected line from the daemon (\(error.message)): \(Quoting.excerpt(line, maxCharacters: 200))")
        }
        guard response.id == nil || response.id == request.id else {
            throw Failure(.internal, "the daemon answered another request: \(Quoting.excerpt(line, maxCharacters: 200))")
        }
        switch response {
        case .event(_, let event):
            emit(event.compactString + "\n")
        case .ok where streams:
            continue
        case .ok(_, let result):
            emit(
                invocation.json
                    ? result.compactString + "\n"
                    : request.cmd == "help" ? Rendering.help(result)
                    : request.cmd == "alert.list" ? Rendering.alerts(result) : Rendering.human(result))
            return
        case .error(_, let error):
            throw Failure(error)
        }
    }
    if let sendFailure { throw sendFailure }
    guard streams else {
        throw Failure(.unavailable, "the daemon closed the connection before answering")
    }
}

/// Accepts a greeting of our protocol version; reports an error line the daemon sends
/// instead (such as `too_many_connections`).
func check(greeting line: String) throws(Failure) {
    if let greeting = try? Greeting.parse(line: line) {
        guard greeting.proto == Greeting.currentProto else {
            throw Failure(
                .internal, "the daemon speaks protocol \(greeting.proto), conveyorctl speaks \(Greeting.currentProto)")
        }
    } else if case .error(_, let error)? = try? Response.parse(line: line) {
        throw Failure(error)
    } else {
        throw Failure(.internal, "unexpected greeting from the daemon: \(Quoting.excerpt(line, maxCharacters: 200))")
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
let environmentSocket = getenv("CONVEYOR_ADMIN_SOCKET").map { String(cString: $0) }
do throws(Failure) {
    if let invocation = try Invocation.parse(arguments, environmentSocket: environmentSocket) {
        try run(invocation)
    } else {
        emit(Invocation.helpText())
    }
    exit(0)
} catch {
    emit("conveyorctl: \(error.message)\n", to: STDERR_FILENO)
    exit(error.exitCode)
}
