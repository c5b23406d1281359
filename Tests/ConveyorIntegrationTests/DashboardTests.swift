import ConveyorProtocol
import Foundation
import Testing

/// `deploy/grafana/conveyor-dashboard.json` queries only what `conveyord`
/// exports: every metric name in every panel expression (and in the
/// template variables' queries) is a family of a real daemon's `metrics`,
/// with `_bucket`, `_sum` and `_count` only on histograms, and every label a
/// selector matches on is one the metric has.
@Suite struct DashboardTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let dashboardPath = packageRoot.appendingPathComponent("deploy/grafana/conveyor-dashboard.json").path

    @Test func everyMetricTheDashboardQueriesIsOneTheDaemonExports() throws {
        let dashboard = try Dashboard(path: Self.dashboardPath)
        #expect(dashboard.hasPrometheusDatasourceVariable, "the dashboard has a datasource variable of type prometheus")
        #expect(!dashboard.panels.isEmpty)
        for panel in dashboard.panels {
            #expect(!panel.expressions.isEmpty, "panel \"\(panel.title)\" has no expression")
            for expression in panel.expressions {
                #expect(!PromQL.selectors(in: expression).isEmpty, "panel \"\(panel.title)\": no metric in \(expression)")
            }
        }

        let text = try Self.scrapeOfABusyDaemon()
        let exported = Exposition(text)
        var checked = 0
        for (title, expression) in dashboard.allExpressions {
            for selector in PromQL.selectors(in: expression) {
                checked += 1
                #expect(exported.series.contains(selector.metric),
                        "\(title): \(selector.metric) is not a metric conveyord exports (it exports \(exported.families.keys.sorted()))")
                for label in selector.labels where label != "__name__" {
                    #expect(exported.labels(of: selector.metric).contains(label),
                            "\(title): \(selector.metric) has no label \(label) (it has \(exported.labels(of: selector.metric).sorted()))")
                }
            }
        }
        #expect(checked >= 20, "the dashboard queries \(checked) metrics")
        // The panels the dashboard is for.
        let queried = Set(dashboard.allExpressions.flatMap { PromQL.selectors(in: $0.expression).map(\.metric) })
        for metric in [
            "conveyor_queue_jobs", "conveyor_handoffs_total", "conveyor_job_latency_seconds_bucket", "conveyor_alerts",
            "conveyor_scan_last_duration_seconds", "conveyor_admin_requests_total", "conveyor_database_up",
        ] {
            #expect(queried.contains(metric), "the dashboard shows \(metric)")
        }
    }

    @Test func promQLNamesAreTheIdentifiersThatAreNotFunctionsKeywordsOrLabels() {
        func names(_ expression: String) -> [String] { PromQL.selectors(in: expression).map(\.metric) }
        #expect(names(#"histogram_quantile(0.99, sum by (kind, le) (rate(conveyor_job_wait_seconds_bucket{kind="handoff"}[$__rate_interval])))"#)
            == ["conveyor_job_wait_seconds_bucket"])
        #expect(names("sum(a_total) / sum(b_count) offset 5m") == ["a_total", "b_count"])
        #expect(names(#"time() - max by (team) (x{team=~"$team", le!="1"})"#) == ["x"])
        #expect(names(#"up == bool 1 and on (instance) group_left (team) other"#) == ["up", "other"])
        #expect(names(#"{__name__="via_matcher"}"#) == ["via_matcher"])
        #expect(names(#"count_values("value", y) or vector(0) unless z[5m:1m]"#) == ["y", "z"])
        #expect(PromQL.selectors(in: #"a{b="x,y}", c!~'z'}"#).first?.labels == ["b", "c"])
        #expect(PromQL.variableQueryExpressions("label_values(conveyor_handoffs_total, team)") == ["conveyor_handoffs_total"])
        #expect(PromQL.variableQueryExpressions("label_values(team)").isEmpty)
        #expect(PromQL.variableQueryExpressions("query_result(sum(x))") == ["sum(x)"])
    }

    @Test func onlyHistogramsHaveBucketSumAndCountSeries() {
        let exposition = Exposition("""
            # TYPE h_seconds histogram
            h_seconds_bucket{kind="a",le="0.5"} 1
            h_seconds_sum{kind="a"} 0.2
            h_seconds_count{kind="a"} 1
            # TYPE c_total counter
            c_total{code="ok"} 3
            # TYPE g gauge
            g{team="x \\"y\\", z",kind="auto"} 1
            """)
        #expect(exposition.series == ["h_seconds_bucket", "h_seconds_sum", "h_seconds_count", "c_total", "g"])
        #expect(!exposition.series.contains("h_seconds"), "a histogram's bare name is no series")
        #expect(!exposition.series.contains("c_total_count"))
        #expect(exposition.labels(of: "h_seconds_bucket") == ["kind", "le"])
        #expect(exposition.labels(of: "g") == ["team", "kind"])
    }

    /// A daemon that has handed off, waited, raised an alert, scanned and refused
    /// something, so that every family has samples.
    static func scrapeOfABusyDaemon() throws -> String {
        let daemon = try DaemonProcess(database: try TestPostgres.makeDatabase())
        defer { daemon.stop() }
        let client = try daemon.connect()
        _ = try client.result("team.add", ["name": "rail"])
        _ = try client.result("rep.add", ["team": "rail", "ref": "ivan", "role": "closer"])
        _ = try client.result("rep.add", ["team": "rail", "ref": "olga", "role": "account_manager", "capacity": 5])
        _ = try client.result("win", ["team": "rail", "account": "acme", "hunter": "ivan"])
        _ = try client.result("win", ["team": "rail", "account": "amur", "hunter": "ivan", "needs": "sea"])
        let db = try TestPostgres.connect(daemon.databaseURL)
        #expect(eventually { (try? HandoffDaemon.int(db, "select count(*) from conveyor.handoffs")) == 1 })
        #expect(eventually { (try? HandoffDaemon.int(db, "select count(*) from conveyor.alerts")) == 1 })
        _ = try client.result("scan.run", ["team": "rail"])
        #expect(try client.request("team.add", ["name": ""]).errorCode == .invalidArgument)
        #expect(try client.request("team.add", ["name": ""]).errorCode == .invalidArgument)
        return try #require(try client.result("metrics")["text"]?.stringValue)
    }
}

/// The parts of a Grafana dashboard the test reads.
struct Dashboard {
    struct Panel {
        var title: String
        var expressions: [String]
    }

    /// Every panel that shows data (rows left out, nested rows' panels included).
    var panels: [Panel] = []
    /// The PromQL inside the template variables' queries.
    var variableExpressions: [String] = []
    var hasPrometheusDatasourceVariable = false

    var allExpressions: [(title: String, expression: String)] {
        panels.flatMap { panel in panel.expressions.map { (panel.title, $0) } }
            + variableExpressions.map { ("variable query", $0) }
    }

    /// The panels of a list, those of rows included.
    static func panels(in list: [[String: Any]]) -> [Panel] {
        list.flatMap { panel -> [Panel] in
            if panel["type"] as? String == "row" { return panels(in: panel["panels"] as? [[String: Any]] ?? []) }
            let targets = panel["targets"] as? [[String: Any]] ?? []
            return [Panel(title: panel["title"] as? String ?? "(untitled)", expressions: targets.compactMap { $0["expr"] as? String })]
        }
    }

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestSetupError("\(path) is not a JSON object")
        }
        panels = Self.panels(in: root["panels"] as? [[String: Any]] ?? [])
        let variables = (root["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        for variable in variables {
            if variable["type"] as? String == "datasource", variable["query"] as? String == "prometheus" {
                hasPrometheusDatasourceVariable = true
            }
            guard variable["type"] as? String == "query" else { continue }
            let query = (variable["query"] as? String) ?? ((variable["query"] as? [String: Any])?["query"] as? String) ?? ""
            variableExpressions += PromQL.variableQueryExpressions(query)
        }
    }
}

/// Just enough PromQL to find the metric names of an expression.
enum PromQL {
    struct Selector: Equatable {
        var metric: String
        /// The label names its matchers name.
        var labels: [String]
    }

    /// Keywords that take a parenthesised list of labels.
    static let grouping: Set<String> = ["by", "without", "on", "ignoring", "group_left", "group_right"]
    static let keywords: Set<String> = ["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"]
    /// Aggregation operators: `sum by (x) (…)` puts the grouping between the name and its `(`.
    static let aggregations: Set<String> = [
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
        "limitk", "limit_ratio",
    ]

    /// The metric selectors of `expression`: identifiers followed by `{` or standing alone,
    /// not function names (followed by `(`), keywords, aggregations, grouping labels,
    /// strings, durations, numbers or Grafana variables (`$__rate_interval`, `${x}`).
    static func selectors(in expression: String) -> [Selector] {
        let characters = Array(expression)
        var found: [Selector] = []
        var index = 0
        func isIdentifierStart(_ c: Character) -> Bool { c == "_" || c == ":" || (c.isASCII && c.isLetter) }
        func isIdentifier(_ c: Character) -> Bool { isIdentifierStart(c) || (c.isASCII && c.isNumber) }
        func skipSpaces(_ from: Int) -> Int {
            var at = from
            while at < characters.count, characters[at].isWhitespace { at += 1 }
            return at
        }
        /// The index just past the string starting at `from`.
        func skipString(_ from: Int) -> Int {
            let quote = characters[from]
            var at = from + 1
            while at < characters.count, characters[at] != quote {
                at += characters[at] == "\\" && quote != "`" ? 2 : 1
            }
            return at + 1
        }
        /// The index just past the bracket closing the one at `from`, skipping strings.
        func skipGroup(_ from: Int, _ open: Character, _ close: Character) -> Int {
            var depth = 0
            var at = from
            while at < characters.count {
                let c = characters[at]
                if c == "\"" || c == "'" || c == "`" { at = skipString(at); continue }
                if c == open { depth += 1 } else if c == close {
                    depth -= 1
                    if depth == 0 { return at + 1 }
                }
                at += 1
            }
            return at
        }
        /// The label names in the matchers of `{…}` starting at `from`, and `__name__`'s value.
        func matchers(_ from: Int, _ to: Int) -> (labels: [String], name: String?) {
            var labels: [String] = []
            var name: String?
            var at = from + 1
            while at < to - 1 {
                let c = characters[at]
                if c == "\"" || c == "'" || c == "`" { at = skipString(at); continue }
                if isIdentifierStart(c) {
                    var end = at
                    while end < characters.count, isIdentifier(characters[end]) { end += 1 }
                    let label = String(characters[at..<end])
                    labels.append(label)
                    var value = skipSpaces(end)
                    while value < to, "=!~".contains(characters[value]) { value += 1 }
                    value = skipSpaces(value)
                    if label == "__name__", value < to, "\"'`".contains(characters[value]) {
                        let close = skipString(value)
                        name = String(characters[(value + 1)..<(close - 1)])
                        at = close
                        continue
                    }
                    at = end
                    continue
                }
                at += 1
            }
            return (labels, name)
        }

        while index < characters.count {
            let c = characters[index]
            if c == "\"" || c == "'" || c == "`" {
                index = skipString(index)
            } else if c == "[" {
                index = skipGroup(index, "[", "]")
            } else if c == "{" {
                let end = skipGroup(index, "{", "}")
                let (labels, name) = matchers(index, end)
                if let name { found.append(Selector(metric: name, labels: labels)) }
                index = end
            } else if c == "$" {
                index += 1
                if index < characters.count, characters[index] == "{" {
                    index = skipGroup(index, "{", "}")
                } else {
                    while index < characters.count, isIdentifier(characters[index]) { index += 1 }
                }
            } else if c.isASCII && c.isNumber || (c == "." && index + 1 < characters.count && characters[index + 1].isNumber) {
                while index < characters.count, isIdentifier(characters[index]) || characters[index] == "." { index += 1 }
            } else if isIdentifierStart(c) {
                var end = index
                while end < characters.count, isIdentifier(characters[end]) { end += 1 }
                let word = String(characters[index..<end])
                let next = skipSpaces(end)
                let following: Character? = next < characters.count ? characters[next] : nil
                if grouping.contains(word) {
                    index = following == "(" ? skipGroup(next, "(", ")") : end
                } else if word == "offset" {
                    index = next
                    while index < characters.count, isIdentifier(characters[index]) || characters[index] == "-" { index += 1 }
                } else if keywords.contains(word.lowercased()) || aggregations.contains(word) || following == "(" {
                    index = end
                } else if following == "{" {
                    let close = skipGroup(next, "{", "}")
                    found.append(Selector(metric: word, labels: matchers(next, close).labels))
                    index = close
                } else {
                    found.append(Selector(metric: word, labels: []))
                    index = end
                }
            } else {
                index += 1
            }
        }
        return found
    }

    /// The PromQL inside a Grafana Prometheus variable query: `label_values(expr, label)`'s
    /// expression (none for `label_values(label)`), `query_result(expr)`'s; a plain
    /// expression otherwise.
    static func variableQueryExpressions(_ query: String) -> [String] {
        let trimmed = query.trimmingCharacters(in: .whitespaces)
        for function in ["label_values", "query_result"] where trimmed.hasPrefix(function + "(") && trimmed.hasSuffix(")") {
            let inner = String(trimmed.dropFirst(function.count + 1).dropLast())
            guard function == "label_values" else { return [inner] }
            // The last comma outside braces and parentheses separates the label.
            var depth = 0
            var split: String.Index?
            for position in inner.indices {
                switch inner[position] {
                case "(", "{", "[": depth += 1
                case ")", "}", "]": depth -= 1
                case "," where depth == 0: split = position
                default: break
                }
            }
            guard let split else { return [] }
            return [String(inner[..<split])]
        }
        return trimmed.isEmpty ? [] : [trimmed]
    }
}

/// The families of a Prometheus text exposition and the series names they export.
struct Exposition {
    /// Family name → type (`counter`, `gauge`, `histogram`, …).
    var families: [String: String] = [:]
    /// Series names a query may use: a family's name, and for histograms and summaries
    /// `_bucket` (histograms only), `_sum` and `_count`; a histogram's bare name is none.
    var series: Set<String> = []
    private var labelNames: [String: Set<String>] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count >= 4, words[0] == "#", words[1] == "TYPE" {
                families[String(words[2])] = String(words[3])
            } else if !line.hasPrefix("#"), let name = line.split(whereSeparator: { $0 == "{" || $0 == " " }).first {
                var labels = labelNames[String(name), default: []]
                if let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
                    for item in Self.labelItems(String(line[line.index(after: open)..<close])) { labels.insert(item) }
                }
                labelNames[String(name)] = labels
            }
        }
        for (name, type) in families {
            switch type {
            case "histogram": series.formUnion([name + "_bucket", name + "_sum", name + "_count"])
            case "summary": series.formUnion([name, name + "_sum", name + "_count"])
            default: series.insert(name)
            }
        }
    }

    /// The label names the samples of series `name` carry.
    func labels(of name: String) -> Set<String> { labelNames[name] ?? [] }

    /// The names of `a="x",b="y"` (values may hold escaped quotes and commas).
    private static func labelItems(_ text: String) -> [String] {
        var names: [String] = []
        var current = ""
        var inValue = false
        var escaped = false
        for character in text {
            if inValue {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inValue = false }
            } else if character == "\"" {
                inValue = true
            } else if character == "=" {
                names.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else if character != "," {
                current.append(character)
            }
        }
        return names
    }
}
