import ConveyorCore
import ConveyorPostgres
import ConveyorStore
import Foundation
import Testing

/// The store's operations against a real PostgreSQL: each one that looks
/// up, locks or writes several statements runs in its own transaction,
/// refuses with a typed `StoreRefusal`, and leaves nothing behind (and no
/// transaction open) when it refuses.
@Suite struct StoreOperationTests {
    private func expectRefusal(
        _ expected: (String) -> StoreRefusal, mentioning words: [String], _ world: HandoffWorld,
        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("expected a refusal", sourceLocation: sourceLocation)
        } catch let refusal as StoreRefusal {
            #expect(refusal == expected(refusal.description), sourceLocation: sourceLocation)
            for word in words {
                #expect(refusal.description.contains(word), "\(refusal) should mention \(word)", sourceLocation: sourceLocation)
            }
        } catch {
            Issue.record("expected a StoreRefusal, got \(error)", sourceLocation: sourceLocation)
        }
        #expect(!world.db.inTransaction, "a refusal must not leave a transaction open", sourceLocation: sourceLocation)
    }

    @Test func lookupsByNameRefuseWithNotFound() throws {
        let world = try HandoffWorld()
        let db = world.db
        let changes = RepChanges(capacity: 3)
        expectRefusal(StoreRefusal.notFound, mentioning: ["team", "\"atlantis\""], world) {
            _ = try DirectoryStore.updateRep(db, team: "atlantis", ref: "ivan", changes: changes)
        }
        expectRefusal(StoreRefusal.notFound, mentioning: ["rep", "\"ghost\"", "\"rail\""], world) {
            _ = try DirectoryStore.updateRep(db, team: "rail", ref: "ghost", changes: changes)
        }
        expectRefusal(StoreRefusal.notFound, mentioning: ["team", "\"atlantis\""], world) {
            _ = try DirectoryStore.addRep(db, team: "atlantis", ref: "new", name: nil, role: .closer, capacity: nil, skills: nil)
        }
        expectRefusal(StoreRefusal.notFound, mentioning: ["account", "\"nope\""], world) {
            _ = try DirectoryStore.account(db, team: "rail", ref: "nope")
        }
        expectRefusal(StoreRefusal.notFound, mentioning: ["\"ghost\""], world) {
            _ = try Reassignment.requestDeparture(db, team: "rail", ref: "ghost")
        }
        expectRefusal(StoreRefusal.notFound, mentioning: ["team", "\"atlantis\""], world) {
            _ = try DirectoryStore.updateTeam(db, name: "atlantis", changes: .init(paused: true))
        }
        // record_win's unknown team and hunter (SQLSTATE 23503) are not found, whatever their wording.
        expectRefusal(StoreRefusal.notFound, mentioning: ["atlantis"], world) {
            _ = try DirectoryStore.recordWin(db, team: "atlantis", account: "a", hunter: "ivan", name: nil, needs: nil, value: nil)
        }
        expectRefusal(StoreRefusal.notFound, mentioning: ["ghost"], world) {
            _ = try DirectoryStore.recordWin(db, team: "rail", account: "a", hunter: "ghost", name: nil, needs: nil, value: nil)
        }
        #expect(try db.query("select count(*) as n from conveyor.accounts")[0]["n"].int() == 0)
        #expect(try db.query("select count(*) as n from conveyor.reps")[0]["n"].int() == 2)
    }

    @Test func aRefusedReassignmentIsAConflictAndChangesNothing() throws {
        let world = try HandoffWorld()
        try world.addManager("anna", capacity: 1)
        try world.addManager("boris", capacity: 0)
        try world.win("acme")
        try world.route()
        let before = try world.account("acme")
        expectRefusal(StoreRefusal.conflict, mentioning: ["boris", "at_capacity"], world) {
            _ = try Reassignment.reassign(world.db, team: "rail", ref: "acme", to: "boris")
        }
        expectRefusal(StoreRefusal.conflict, mentioning: ["already belongs"], world) {
            _ = try Reassignment.reassign(world.db, team: "rail", ref: "acme", to: "anna")
        }
        expectRefusal(StoreRefusal.notFound, mentioning: ["\"ghost\""], world) {
            _ = try Reassignment.reassign(world.db, team: "rail", ref: "acme", to: "ghost")
        }
        #expect(try world.account("acme") == before)
        #expect(try world.handoffs("acme").count == 1)
    }

    @Test func stateChangesSayWhyNothingChanged() throws {
        let world = try HandoffWorld()
        let id = try JobStore.enqueue(world.db, kind: "noop")
        #expect(try JobStore.apply(.cancel, toJob: id, on: world.db).state == "cancelled")
        expectRefusal(StoreRefusal.conflict, mentioning: ["job \(id) is cancelled", "available, retryable or waiting"], world) {
            _ = try JobStore.apply(.cancel, toJob: id, on: world.db)
        }
        #expect(try JobStore.apply(.retry, toJob: id, on: world.db).state == "available")
        expectRefusal(StoreRefusal.notFound, mentioning: ["no job 987654"], world) {
            _ = try JobStore.apply(.retry, toJob: 987_654, on: world.db)
        }
        expectRefusal(StoreRefusal.notFound, mentioning: ["no alert 987654"], world) {
            _ = try AlertStore.apply(.acknowledge, toAlert: 987_654, on: world.db)
        }
    }

    @Test func anOperationJoinsNoTransactionItDidNotOpen() throws {
        let world = try HandoffWorld()
        try world.addManager("anna", capacity: 5)
        // Operations commit by themselves: a second connection sees the change at once.
        _ = try DirectoryStore.updateRep(world.db, team: "rail", ref: "anna", changes: RepChanges(capacity: 7))
        let other = try TestPostgres.connect(world.conninfo)
        #expect(try other.query("select capacity from conveyor.reps where ref = 'anna'")[0]["capacity"].int() == 7)
    }
}
