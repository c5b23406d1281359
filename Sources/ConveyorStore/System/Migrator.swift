import ConveyorPostgres
import Foundation

/// One numbered migration from `SQL/NNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let file: String
    public let text: String

    public init(version: Int, file: String, text: String) {
        self.version = version
        self.file = file
        self.text = text
    }

    /// FNV-1a 64 of the text: detects an applied migration whose file changed.
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

/// Why migrating refused to go on.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// Applies pending migrations under a PostgreSQL advisory lock, so several
/// `conveyord migrate` (or starting daemons) at once are safe; records each
/// in `conveyor.schema_migrations` with its checksum.
///
/// A migration never waits long for a lock: an `ALTER TABLE` queued behind a
/// long transaction (a scan, an integration's session) makes every later
/// statement on that table queue behind it, handoffs included. Each lock is
/// waited for at most `lockTimeout`; then the migration rolls back, the
/// queued statements run, and after a pause as long it tries again,
/// `attempts` times in all.
public struct Migrator: Sendable {
    /// The migrations compiled into this binary, in version order.
    public static let embedded: [Migration] = EmbeddedSQL.migrations.map { entry in
        let digits = entry.file.prefix { $0.isNumber }
        guard let version = Int(digits), !digits.isEmpty else {
            preconditionFailure("migration file \(entry.file) must start with its version number")
        }
        return Migration(version: version, file: entry.file, text: entry.text)
    }

    /// Other texts an applied migration's file once had, still accepted from
    /// databases that recorded them:
    /// - 001's comments once pointed at a document outside this repository
    ///   (an edit that changed no schema; 010 replaced its schema comment);
    /// - 011 was briefly edited after it had been applied; it is back to its
    ///   applied text, and 014 makes the same change to any database.
    static let formerChecksums: [Int: Set<String>] = [1: ["ee6487f4771a7b27"], 11: ["11fa95594f3e84b5"]]

    /// Arbitrary constant key of the migration advisory lock ("conv" "migr").
    static let lockKey: Int64 = 0x636f_6e76_6d69_6772

    public let migrations: [Migration]
    /// The longest wait for any one lock a migration takes.
    public let lockTimeout: Duration
    /// How many times a migration that gave way to a lock holder is tried.
    public let attempts: Int

    /// Versions must be unique (the build's migrations are, see the tests).
    public init(migrations: [Migration] = Migrator.embedded, lockTimeout: Duration = .seconds(2), attempts: Int = 10) {
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.lockTimeout = lockTimeout
        self.attempts = attempts
        precondition(Set(migrations.map(\.version)).count == migrations.count, "two migrations share a version")
        precondition(attempts > 0 && lockTimeout > .zero, "a migration needs at least one attempt and a positive lock timeout")
    }

    /// The newest version this binary knows.
    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Applies every pending migration, each in its own transaction, and
    /// returns those applied now (empty when the schema was up to date).
    @discardableResult
    public func migrate(_ connection: PostgresConnection) throws -> [Migration] {
        try connection.query(Queries.lockMigrations, [Self.lockKey])
        defer { _ = try? connection.query(Queries.unlockMigrations, [Self.lockKey]) }
        try connection.query(Queries.createConveyorSchema)
        try connection.query(Queries.createSchemaMigrations)
        let pending = try pendingMigrations(connection)
        for migration in pending {
            try apply(migration, connection)
        }
        return pending
    }

    /// One migration in its own transaction, tried again while it gives way to a lock holder.
    private func apply(_ migration: Migration, _ connection: PostgresConnection) throws {
        let milliseconds = max(1, Int64((lockTimeout / .milliseconds(1)).rounded(.up)))
        for attempt in 1...attempts {
            do {
                try connection.transaction {
                    try connection.query(Queries.migrationLockTimeout, ["\(milliseconds)ms"])
                    try connection.execute(migration.text)
                    try connection.query(Queries.recordMigration, [migration.version, migration.file, migration.checksum])
                }
                return
            } catch let error as PostgresError where error.code == .lockNotAvailable {
                guard attempt < attempts else {
                    throw MigrationError(description:
                        "migration \(migration.file) gave way \(attempts) times to a session holding a lock it needs (\(milliseconds) ms each): a long transaction is open on a table it changes (see pg_stat_activity); run `conveyord migrate` again when it ends")
                }
                Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
            } catch let error as PostgresError {
                throw MigrationError(description: "migration \(migration.file) failed: \(error)")
            }
        }
    }

    /// Throws, in one line saying what to do, unless the database's schema is
    /// exactly this binary's: no migration pending (run `conveyord migrate`),
    /// none unknown (a newer conveyord migrated it: upgrade), none changed.
    public func checkCurrent(_ connection: PostgresConnection) throws {
        let pending = try pendingMigrations(connection)
        guard pending.isEmpty else {
            let names = pending.prefix(3).map(\.file).joined(separator: ", ") + (pending.count > 3 ? ", …" : "")
            throw MigrationError(description:
                "the database's schema is behind this conveyord (\(pending.count) migration\(pending.count == 1 ? "" : "s") pending: \(names)); run `conveyord migrate` first")
        }
    }

    /// Migrations not yet applied; throws when an applied one changed or is
    /// unknown to this binary.
    public func pendingMigrations(_ connection: PostgresConnection) throws -> [Migration] {
        let exists = try connection.query(Queries.schemaMigrationsPresent)
        guard try exists[0]["present"].bool() else { return migrations }
        var applied: [Int: String] = [:]
        for row in try connection.query(Queries.appliedMigrations) {
            applied[try row["version"].int()] = try row["checksum"].string()
        }
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, checksum) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[version] else {
                throw MigrationError(description:
                    "the database's schema is newer than this conveyord (it has migration \(version), this conveyord knows up to \(latestVersion)); upgrade conveyord")
            }
            guard migration.checksum == checksum || Self.formerChecksums[version]?.contains(checksum) == true else {
                throw MigrationError(description:
                    "migration \(migration.file) was changed after it was applied (checksum \(checksum) in the database, \(migration.checksum) in this build); add a new migration instead of editing an applied one")
            }
        }
        return migrations.filter { applied[$0.version] == nil }
    }
}
