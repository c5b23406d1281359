/// Why a year cannot be generated or loaded: sizes out of range, an unknown
/// time zone, a team that already exists. The message says which and why.
public struct FixtureError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
