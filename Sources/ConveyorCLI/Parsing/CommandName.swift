import ConveyorCore

/// The form of a command name the catalog does not know, checked before it is sent.
enum CommandName {
    /// Accepts what the protocol accepts: 1 to 100 characters from `a-z 0-9 . _ -`.
    static func check(_ name: String) throws(Failure) {
        if name.hasPrefix("-") { throw Failure.usage("unknown option \(Quoting.excerpt(name))") }
        let allowed = name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
        guard allowed, (1...100).contains(name.utf8.count) else {
            throw Failure.usage("\(Quoting.excerpt(name)) is not a command: names are 1 to 100 characters from a-z 0-9 . _ -")
        }
    }
}
