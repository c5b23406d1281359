import CLibFuzzer

/// Runs libFuzzer's driver over `testOneInput` with this process's arguments (`-runs=N`,
/// corpus directories, …) and returns its exit status.
///
/// SwiftPM links an executable target's `main` to the target's own top-level code, so a fuzz
/// target cannot leave `main` to libFuzzer; its top-level code calls this instead.
public func runFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    return LLVMFuzzerRunDriver(&argc, &argv, testOneInput)
}
