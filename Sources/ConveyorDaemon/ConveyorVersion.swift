/// The version conveyord and conveyorctl report.
public enum ConveyorVersion {
    public static let current = "0.1.0"
}
