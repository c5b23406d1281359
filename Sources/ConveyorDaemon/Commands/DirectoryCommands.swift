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
                ["teams": try JSONValue(encoding: try await database.run { try DirectoryStore.teams($0) })]
            },
            "team.add": { args, _ in
                let name = try valid { try Validate.ref(try args.string("name"), field: "name") }
                let timeZone = try valid { try args.optionalString("time_zone").map { try Validate.timeZone($0) } }
                let scanTime = try valid { try args.optionalString("scan_local_time").map { try Validate.localTime($0) } }
                return ["team": try JSONValue(encoding: try await database.run {
                    try DirectoryStore.addTeam($0, name: name, timeZone: timeZone, scanLocalTime: scanTime)
                })]
            },
            "team.update": { args, _ in
                let name = try args.string("name")
                var changes = DirectoryStore.TeamChanges()
                changes.timeZone = try valid { try args.optionalString("time_zone").map { try Validate.timeZone($0) } }
                changes.scanLocalTime = try valid { try args.optionalString("scan_local_time").map { try Validate.localTime($0) } }
                changes.skillsFallback = try args.optionalBool("skills_fallback")
                for setting in TeamSetting.all {
                    if let text = try args.optionalString(setting.name) {
                        changes.settings[setting.name] = try valid { try setting.value(text) }
                    }
                }
                changes.webhookURL = try valid { try args.optionalString("webhook_url").map { $0.isEmpty ? "" : try Validate.webhookURL($0) } }
                changes.webhookSecret = try valid {
                    try args.optionalString("webhook_secret").map { $0.isEmpty ? "" : try Validate.webhookSecret($0) }
                }
                let update = changes
                return ["team": try JSONValue(encoding: try await database.run { try DirectoryStore.updateTeam($0, name: name, changes: update) })]
            },
            "team.pause": { args, _ in
                let name = try args.string("name")
                return ["team": try JSONValue(encoding: try await database.run { try DirectoryStore.updateTeam($0, name: name, changes: .init(paused: true)) })]
            },
            "team.resume": { args, _ in
                let name = try args.string("name")
                return ["team": try JSONValue(encoding: try await database.run { try DirectoryStore.updateTeam($0, name: name, changes: .init(paused: false)) })]
            },
            "rep.list": { args, _ in
                let team = try args.optionalString("team")
                return ["reps": try JSONValue(encoding: try await database.run { try DirectoryStore.reps($0, team: team) })]
            },
            "rep.add": { args, _ in
                let team = try args.string("team")
                let ref = try valid { try Validate.ref(try args.string("ref")) }
                let name = try valid { try args.optionalString("name").map { try Validate.name($0) } }
                let role = try roleArgument(args, required: true)!
                let capacity = try valid { try args.optionalString("capacity").map { try Validate.capacity($0) } }
                let skills = try valid { try args.optionalString("skills").map { try Validate.skills($0) } }
                return ["rep": try JSONValue(encoding: try await database.run {
                    try DirectoryStore.addRep($0, team: team, ref: ref, name: name, role: role, capacity: capacity, skills: skills)
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
                let until = try valid { try args.optionalString("until").map { try Validate.time($0, field: "until") } }
                return try await updateRep(database, args, RepChanges(away: .until(until ?? .distantFuture)))
            },
            "rep.back": { args, _ in try await updateRep(database, args, RepChanges(away: .clear)) },
            "win": { args, _ in
                let (team, account, hunter) = (try args.string("team"), try args.string("account"), try args.string("hunter"))
                let name = try args.optionalString("name")
                let needs = try valid { try args.optionalString("needs").map { try Validate.skills($0, field: "needs") } }
                let value = try args.optionalString("value").map { text throws(ProtocolError) -> Decimal in
                    guard text.wholeMatch(of: /[0-9]{1,15}(\.[0-9]{1,6})?/) != nil,
                          let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
                    else {
                        throw ProtocolError(.invalidArgument, "value must be a plain number >= 0 such as 120000.50, got \(Quoting.excerpt(text))")
                    }
                    return value
                }
                let jobId = try await database.run {
                    try DirectoryStore.recordWin($0, team: team, account: account, hunter: hunter, name: name, needs: needs, value: value)
                }
                return ["job_id": .int(jobId)]
            },
            "account.show": { args, _ in
                let (team, ref) = (try args.string("team"), try args.string("ref"))
                return ["account": try JSONValue(encoding: try await database.run { try DirectoryStore.account($0, team: team, ref: ref) })]
            },
            "account.explain": { args, _ in
                let (team, ref) = (try args.string("team"), try args.string("ref"))
                return try JSONValue(parsing: try await database.run { try DirectoryStore.latestExplanation($0, team: team, ref: ref) })
            },
            "account.reassign": { args, caller in
                let (team, ref, to) = (try args.string("team"), try args.string("ref"), try args.string("to"))
                return ["account": try JSONValue(encoding: try await database.run { try Reassignment.reassign($0, team: team, ref: ref, to: to) })]
            },
        ]
    }

    private static func updateRep(_ database: ConnectionPool, _ args: Arguments, _ changes: RepChanges) async throws -> JSONValue {
        let (team, ref) = (try args.string("team"), try args.string("ref"))
        return ["rep": try JSONValue(encoding: try await database.run { try DirectoryStore.updateRep($0, team: team, ref: ref, changes: changes) })]
    }

    private static func roleArgument(_ args: Arguments, required: Bool) throws -> RepRole? {
        guard let text = required ? try args.string("role") : try args.optionalString("role") else { return nil }
        guard let role = RepRole(rawValue: text) else {
            throw ProtocolError(.invalidArgument, "role must be lead_generator, closer or account_manager, got \(Quoting.excerpt(text))")
        }
        return role
    }
}
