import ConveyorCore
import ConveyorPostgres
import ConveyorProtocol
import ConveyorStore
import Foundation

/// team.*, rep.*, win and account.*: the sales organisation and its handoffs.
enum DirectoryCommands {
    static func handlers(_ context: DaemonContext) -> [String: CommandHandler] {
        let database = context.database
        return [
            "team.list": { _, _ in
                ["teams": try encode(try await database.run { try DirectoryStore.teams($0) })]
            },
            "team.add": { args, _ in
                let name = try valid { try Validate.ref(try args.string("name"), field: "name") }
                let timeZone = try valid { try args.optionalString("time_zone").map { try Validate.timeZone($0) } }
                let scanTime = try valid { try args.optionalString("scan_local_time").map { try Validate.localTime($0) } }
                return ["team": try encode(try await database.run {
                    try DirectoryStore.addTeam($0, name: name, timeZone: timeZone, scanLocalTime: scanTime)
                })]
            },
            "team.update": { args, _ in
                let name = try args.string("name")
                let timeZone = try valid { try args.optionalString("time_zone").map { try Validate.timeZone($0) } }
                let scanTime = try valid { try args.optionalString("scan_local_time").map { try Validate.localTime($0) } }
                return try await updateTeam(database, name) { try DirectoryStore.updateTeam($0, name: name, timeZone: timeZone, scanLocalTime: scanTime) }
            },
            "team.pause": { args, _ in
                let name = try args.string("name")
                return try await updateTeam(database, name) { try DirectoryStore.updateTeam($0, name: name, paused: true) }
            },
            "team.resume": { args, _ in
                let name = try args.string("name")
                return try await updateTeam(database, name) { try DirectoryStore.updateTeam($0, name: name, paused: false) }
            },
            "rep.list": { args, _ in
                let team = try args.optionalString("team")
                return ["reps": try encode(try await database.run { try DirectoryStore.reps($0, team: team) })]
            },
            "rep.add": { args, _ in
                let team = try args.string("team")
                let ref = try valid { try Validate.ref(try args.string("ref")) }
                let name = try valid { try args.optionalString("name").map { try Validate.name($0) } }
                let role = try roleArgument(args, required: true)!
                let capacity = try valid { try args.optionalString("capacity").map { try Validate.capacity($0) } }
                let skills = try valid { try args.optionalString("skills").map { try Validate.skills($0) } }
                return ["rep": try encode(try await database.run { connection in
                    try DirectoryStore.addRep(connection, teamId: try teamId(connection, team), ref: ref, name: name, role: role, capacity: capacity, skills: skills)
                })]
            },
            "rep.update": { args, _ in
                let changes = RepChanges(
                    name: try valid { try args.optionalString("name").map { try Validate.name($0) } },
                    role: try roleArgument(args, required: false),
                    capacity: try valid { try args.optionalString("capacity").map { try Validate.capacity($0) } },
                    skills: try valid { try args.optionalString("skills").map { try Validate.skills($0) } }
                )
                return try await updateRep(database, args, changes)
            },
            "rep.away": { args, _ in
                let until = try args.optionalString("until").map { text throws(ProtocolError) -> Date in
                    guard let date = parseTimestamp(text) else {
                        throw ProtocolError(.invalidArgument, "until must be an ISO 8601 time such as 2026-12-24T18:00:00Z")
                    }
                    return date
                }
                return try await updateRep(database, args, RepChanges(away: .until(until ?? .distantFuture)))
            },
            "rep.back": { args, _ in try await updateRep(database, args, RepChanges(away: .clear)) },
            "rep.depart": { args, _ in
                let (team, ref) = (try args.string("team"), try args.string("ref"))
                let moves = try await database.run { connection in
                    try connection.transaction {
                        let teamId = try teamId(connection, team)
                        guard let rep = try DirectoryStore.rep(connection, teamId: teamId, ref: ref) else {
                            throw ProtocolError(.notFound, "no rep \(ref) in team \(team)")
                        }
                        return try Reassignment.depart(connection, teamId: teamId, repId: rep.id)
                    }
                }
                return ["redistribution": .array(moves.map { move in
                    [
                        "account": .string(move.account), "owner": move.owner.map(JSONValue.string) ?? .null,
                        "waiting_reason": move.waitingReason.map(JSONValue.string) ?? .null,
                    ]
                })]
            },
            "win": { args, _ in
                let (team, account, hunter) = (try args.string("team"), try args.string("account"), try args.string("hunter"))
                let name = try args.optionalString("name")
                let needs = try valid { try args.optionalString("needs").map { try Validate.skills($0, field: "needs") } }
                let value = try args.optionalString("value").map { text throws(ProtocolError) -> Decimal in
                    guard text.wholeMatch(of: /[0-9]{1,15}(\.[0-9]{1,6})?/) != nil,
                          let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
                    else {
                        throw ProtocolError(.invalidArgument, "value must be a plain number >= 0 such as 120000.50, got \(JSONValue.excerpt(text))")
                    }
                    return value
                }
                let jobId = try await database.run {
                    try DirectoryStore.recordWin($0, team: team, account: account, hunter: hunter, name: name, needs: needs, value: value)
                }
                return ["job_id": .int(jobId)]
            },
            "account.show": { args, _ in
                ["account": try encode(try await account(database, args))]
            },
            "account.explain": { args, _ in
                let (team, ref) = (try args.string("team"), try args.string("ref"))
                let (handoff, explanation, refs) = try await database.run { connection in
                    guard let account = try DirectoryStore.account(connection, teamId: try teamId(connection, team), ref: ref) else {
                        throw ProtocolError(.notFound, "no account \(ref) in team \(team)")
                    }
                    guard let handoff = try DirectoryStore.latestHandoff(connection, accountId: account.id) else {
                        throw ProtocolError(.notFound, "account \(ref) has not been handed off yet")
                    }
                    let explanation = try Explanation.decode(handoff.explanation)
                    return (handoff, explanation, try DirectoryStore.repRefs(connection, ids: explanation.candidates.map(\.repId)))
                }
                return explain(handoff, explanation, refs: refs)
            },
            "account.reassign": { args, caller in
                let (team, ref, to) = (try args.string("team"), try args.string("ref"), try args.string("to"))
                return try await database.run { connection in
                    try connection.transaction {
                        let teamId = try teamId(connection, team)
                        guard let account = try DirectoryStore.account(connection, teamId: teamId, ref: ref) else {
                            throw ProtocolError(.notFound, "no account \(ref) in team \(team)")
                        }
                        guard let target = try DirectoryStore.rep(connection, teamId: teamId, ref: to) else {
                            throw ProtocolError(.notFound, "no rep \(to) in team \(team)")
                        }
                        do {
                            _ = try Reassignment.reassign(connection, teamId: teamId, accountId: account.id, toRepId: target.id)
                        } catch let refusal as Reassignment.Refusal {
                            throw ProtocolError(.conflict, refusal.description)
                        }
                        return ["account": try encode(try DirectoryStore.account(connection, teamId: teamId, ref: ref)!)]
                    }
                }
            },
        ]
    }

    private static func teamId(_ connection: PostgresConnection, _ name: String) throws -> Int64 {
        guard let id = try DirectoryStore.teamId(connection, name: name) else {
            throw ProtocolError(.notFound, "no team \(JSONValue.excerpt(name))")
        }
        return id
    }

    private static func updateTeam(
        _ database: DedicatedConnection, _ name: String, _ change: @escaping @Sendable (PostgresConnection) throws -> TeamRecord?
    ) async throws -> JSONValue {
        guard let team = try await database.run(change) else { throw ProtocolError(.notFound, "no team \(JSONValue.excerpt(name))") }
        return ["team": try encode(team)]
    }

    private static func updateRep(_ database: DedicatedConnection, _ args: Arguments, _ changes: RepChanges) async throws -> JSONValue {
        let (team, ref) = (try args.string("team"), try args.string("ref"))
        let rep = try await database.run { connection in
            try DirectoryStore.updateRep(connection, teamId: try teamId(connection, team), ref: ref, changes: changes)
        }
        guard let rep else { throw ProtocolError(.notFound, "no rep \(JSONValue.excerpt(ref)) in team \(JSONValue.excerpt(team))") }
        return ["rep": try encode(rep)]
    }

    private static func account(_ database: DedicatedConnection, _ args: Arguments) async throws -> AccountRecord {
        let (team, ref) = (try args.string("team"), try args.string("ref"))
        let account = try await database.run { try DirectoryStore.account($0, teamId: try teamId($0, team), ref: ref) }
        guard let account else { throw ProtocolError(.notFound, "no account \(JSONValue.excerpt(ref)) in team \(JSONValue.excerpt(team))") }
        return account
    }

    private static func roleArgument(_ args: Arguments, required: Bool) throws -> RepRole? {
        guard let text = required ? try args.string("role") : try args.optionalString("role") else { return nil }
        guard let role = RepRole(rawValue: text) else {
            throw ProtocolError(.invalidArgument, "role must be lead_generator, closer or account_manager, got \(JSONValue.excerpt(text))")
        }
        return role
    }

    /// Runs a validator, turning its error into `invalid_argument`.
    private static func valid<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ValidationError {
            throw ProtocolError(.invalidArgument, error.description)
        }
    }

    static func parseTimestamp(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    /// The stored explanation (see `Explanation` in ConveyorStore), reshaped
    /// for reading: the handoff, the rule, and one row per candidate with its
    /// load, utilization and why it was excluded.
    private static func explain(_ handoff: HandoffRecord, _ explanation: Explanation.Stored, refs: [Int64: String]) -> JSONValue {
        let candidates = explanation.candidates.map { candidate -> JSONValue in
            let verdict = explanation.chosenRepId == candidate.repId ? "chosen"
                : candidate.excludedBecause.isEmpty ? "eligible" : candidate.excludedBecause.joined(separator: ", ")
            return [
                "rep": .string(refs[candidate.repId] ?? "#\(candidate.repId)"), "owned": .int(Int64(candidate.owned)),
                "capacity": .int(Int64(candidate.capacity)),
                "utilization": candidate.utilization.map { .double(($0 * 1000).rounded() / 1000) } ?? .null,
                "last_assigned_at": candidate.lastAssignedAt.map { .string($0.formatted(.iso8601)) } ?? .null,
                "verdict": .string(verdict),
            ]
        }
        return [
            "handoff": [
                "id": .int(handoff.id), "kind": .string(handoff.kind), "from": handoff.from.map(JSONValue.string) ?? .null,
                "to": .string(handoff.to), "at": .string(handoff.createdAt.formatted(.iso8601)),
                "rule": explanation.rule.map(JSONValue.string) ?? .null,
                "fallback_used": explanation.fallbackUsed.map(JSONValue.bool) ?? .null,
            ],
            "candidates": .array(candidates),
        ]
    }

    /// Any `Encodable` record as a JSON value (dates as ISO 8601).
    static func encode(_ value: some Encodable) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return try JSONValue(parsing: String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
