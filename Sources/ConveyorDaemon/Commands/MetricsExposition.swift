import ConveyorStore

/// The database's share of `metrics`, in Prometheus' text format: the
/// queue, alerts, handoffs, the last scans and the audit, as every daemon
/// on the database sees them (this daemon's own counters and histograms
/// come from its registry). `conveyor_database_up` is 0, and nothing else
/// of this part is shown, while the database cannot be read.
enum MetricsExposition {
    /// The whole exposition `metrics` answers and `metrics_textfile` holds: this
    /// daemon's own metrics, then the database's figures (left out, and logged
    /// when `logging`, when they cannot be read).
    static func all(_ context: DaemonContext, logging: Bool = true) async -> String {
        let figures: DatabaseFigures?
        do {
            figures = try await context.metricsRead.value()
        } catch {
            if logging { context.logger.warning("metrics: cannot read the database's figures", metadata: ["error": "\(error)"]) }
            figures = nil
        }
        return context.metrics.emitToString() + text(figures)
    }

    static func text(_ figures: DatabaseFigures?) -> String {
        var out = family("conveyor_database_up", "gauge", "1 when the database answered this scrape", [([], figures == nil ? 0 : 1)])
        guard let figures else { return out }
        out += family(
            "conveyor_queue_jobs", "gauge", "jobs in the queue by kind and state",
            figures.queue.map { ([("kind", $0.kind), ("state", $0.state)], Double($0.jobs)) })
        let oldest = Dictionary(
            figures.queue.compactMap { count in count.oldestDueSeconds.map { (count.kind, $0) } }, uniquingKeysWith: max)
        out += family(
            "conveyor_queue_oldest_due_seconds", "gauge", "how long the oldest due job of each kind has waited",
            oldest.sorted { $0.key < $1.key }.map { ([("kind", $0.key)], $0.value) })
        out += family(
            "conveyor_alerts", "gauge", "alerts by kind, status and severity",
            figures.alerts.map { ([("kind", $0.kind), ("status", $0.status), ("severity", $0.severity)], Double($0.alerts)) })
        out += family(
            "conveyor_handoffs_total", "counter", "handoffs so far by team and kind",
            figures.handoffs.map { ([("team", $0.team), ("kind", $0.kind)], Double($0.handoffs)) })
        let scans: [(String, String, KeyPath<DatabaseFigures.LastScan, Double>)] = [
            ("conveyor_scan_last_finished_timestamp_seconds", "when each team's last scan committed (Unix time)", \.finishedAt),
            ("conveyor_scan_last_duration_seconds", "how long each team's last scan took", \.seconds),
            ("conveyor_scan_last_scanned_accounts", "accounts each team's last scan scored", \.scanned),
        ]
        for (name, help, figure) in scans {
            out += family(name, "gauge", help, figures.lastScans.map { ([("team", $0.team)], $0[keyPath: figure]) })
        }
        out += family(
            "conveyor_scan_last_alert_changes", "gauge", "alerts each team's last scan opened, updated and resolved",
            figures.lastScans.flatMap { scan in
                [("opened", scan.opened), ("updated", scan.updated), ("resolved", scan.resolved)].map {
                    ([("team", scan.team), ("change", $0.0)], $0.1)
                }
            })
        out += family(
            "conveyor_admin_audit_folded_total", "counter",
            "refused admin attempts counted on an earlier identical audit row instead of a row of their own",
            [([], Double(figures.auditFolded))])
        out += family(
            "conveyor_database_xmin_horizon_xids", "gauge",
            "transactions begun since the oldest snapshot that keeps vacuum from reclaiming dead rows (0: none held)",
            [([], Double(figures.horizon.xids))])
        out += family(
            "conveyor_database_xmin_horizon_seconds", "gauge", "how long the transaction holding that snapshot has run",
            figures.horizon.seconds.map { [([], $0)] } ?? [])
        return out
    }

    /// One metric family: its HELP and TYPE lines and a line per sample.
    private static func family(_ name: String, _ type: String, _ help: String, _ samples: [([(String, String)], Double)]) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" + samples.map { labels, value in
            let labelText = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",") + "}"
            return "\(name)\(labelText) \(number(value))\n"
        }.joined()
    }

    /// A label value as the text format wants it: backslash, quote and newline escaped.
    static func escaped(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// A sample value: integers without a fraction, and `NaN`, `+Inf`, `-Inf` as the format spells them.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
