/// Stops the fuzz run when a property does not hold: the message goes to stderr and the trap
/// makes libFuzzer keep the input as a crash file.
public func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("property broken: \(message())") }
}
