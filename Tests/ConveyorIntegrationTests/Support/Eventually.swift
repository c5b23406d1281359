import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every 50 ms for at most `timeout`.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        usleep(50_000)
    }
}
