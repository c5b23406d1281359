/// A PostgreSQL error code (SQLSTATE) by name, the way postgres-nio's
/// `PostgresError.Code` names them: code compares against these constants,
/// never against literals or message wording.
public struct SQLState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The first two characters: the class (`22` data exception, `23` integrity constraint violation).
    public var errorClass: String { String(rawValue.prefix(2)) }
    public var description: String { rawValue }

    public static let foreignKeyViolation = SQLState(rawValue: "23503")
    public static let uniqueViolation = SQLState(rawValue: "23505")
    public static let queryCanceled = SQLState(rawValue: "57014")
    public static let lockNotAvailable = SQLState(rawValue: "55P03")
    public static let noDataFound = SQLState(rawValue: "P0002")
    public static let adminShutdown = SQLState(rawValue: "57P01")
    public static let crashShutdown = SQLState(rawValue: "57P02")
    public static let cannotConnectNow = SQLState(rawValue: "57P03")

    /// Class 08: the connection failed.
    public static let connectionExceptionClass = "08"
    /// Class 22: a value was refused.
    public static let dataExceptionClass = "22"
    /// Class 23: a constraint refused the change.
    public static let integrityConstraintViolationClass = "23"
}
