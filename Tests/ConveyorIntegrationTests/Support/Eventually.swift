import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every 50 ms for at most `timeout`.
///
/// The default only guards against a hang: the loop ends as soon as the
/// condition holds, and under the parallel suite on two cores a daemon can
/// get no CPU for seconds, so it is generous.
func eventually(timeout: Duration = .seconds(30), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        usleep(50_000)
    }
}
