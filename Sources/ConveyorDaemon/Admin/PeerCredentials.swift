import ConveyorProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The connecting process as the kernel reports it (`SO_PEERCRED`).
///
/// Glibc does not export `struct ucred` to Swift, so this mirrors its
/// 12-byte layout: pid, uid, gid.
struct PeerCredentials: Sendable, Equatable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}

/// Maps a peer's uid to its role: uid 0 or the daemon's own uid is admin;
/// members of the configured operator groups are operator; anyone else who
/// can reach the socket is viewer.
struct RoleResolver: Sendable {
    let daemonUID: UInt32
    let operatorGroups: Set<String>
    /// Groups whose members operate only the teams named for them.
    let operatorTeams: [String: Set<String>]

    /// The peer's role, and for an operator of some teams only, those teams.
    func role(for peer: PeerCredentials) -> (Role, teams: Set<String>?) {
        if peer.uid == 0 || peer.uid == daemonUID { return (.admin, nil) }
        let groups = Self.groupNames(uid: peer.uid, primaryGID: peer.gid)
        if !groups.isDisjoint(with: operatorGroups) { return (.operator, nil) }
        let scoped = groups.compactMap { operatorTeams[$0] }
        if !scoped.isEmpty { return (.operator, scoped.reduce(into: []) { $0.formUnion($1) }) }
        return (.viewer, nil)
    }

    /// The names of every group the user belongs to (primary and supplementary).
    static func groupNames(uid: UInt32, primaryGID: UInt32) -> Set<String> {
        var names: Set<String> = []
        if let group = getgrgid(primaryGID) { names.insert(String(cString: group.pointee.gr_name)) }
        guard let user = getpwuid(uid) else { return names }
        var count: Int32 = 64
        var gids = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user.pointee.pw_name, primaryGID, &gids, &count) == -1 {
            gids = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(user.pointee.pw_name, primaryGID, &gids, &count)
        }
        for gid in gids.prefix(Int(max(count, 0))) {
            if let group = getgrgid(gid) { names.insert(String(cString: group.pointee.gr_name)) }
        }
        return names
    }
}
