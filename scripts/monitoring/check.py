#!/usr/bin/env python3
"""Checks deploy/monitoring (Grafana dashboard, Prometheus alert rules) against real scrapes.

Run through scripts/check-monitoring.sh, which installs promtool and PyYAML first.
  check.py            run every check; exit 1 on any failure
  check.py --write    regenerate k8s/monitoring/{grafana-dashboard,prometheus-rule}.yaml, then check

Ground truth: deploy/monitoring/fixtures/{gateway,silo}.prom, real /metrics scrapes recorded by
scripts/capture-metrics-fixtures.sh, plus fixtures/extra-series.txt (label values and metrics a short local
run does not produce, each with its reason). A metric or label that the dashboard or the rules name but the
processes do not export fails the check.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from concurrent.futures import ThreadPoolExecutor

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MON = os.path.join(ROOT, "deploy", "monitoring")
FIX = os.path.join(MON, "fixtures")
DASHBOARD = os.path.join(MON, "grafana-dashboard.json")
RULES = os.path.join(MON, "alerts.yaml")
RULE_TESTS = os.path.join(MON, "alerts.test.yaml")
EXTRA = os.path.join(FIX, "extra-series.txt")
METERS = os.path.join(ROOT, "src", "ServiceDefaults", "Telemetry", "InvexQrMeters.cs")
GEO_OPTIONS = os.path.join(ROOT, "src", "Enrichment", "Geo", "GeoOptions.cs")
OPERATIONS = os.path.join(ROOT, "docs", "operations.md")
K8S = os.path.join(ROOT, "k8s", "monitoring")
K8S_BASE = os.path.join(ROOT, "k8s", "base")

# Each fixture is scraped as this job (the names the rules and docs/operations.md require).
TARGETS = {"gateway": ("invexqr-gateway", "gateway-a:8080"), "silo": ("invexqr-silo", "silo-a:8081")}
# Series Prometheus adds to every target itself.
SYNTHETIC = {"up": {"job", "instance"}}
# Labels Prometheus attaches at scrape time, so absent from the raw scrapes.
TARGET_LABELS = {"job", "instance"}
BUILTIN_PANELS = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "text", "heatmap", "state-timeline"}
SEVERITIES = {"critical", "warning", "info"}
RATE_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}

failures = []
checks = 0
failed_checks = 0


def fail(msg):
    failures.append(msg)
    print(f"  FAIL {msg}")


def ok(msg):
    print(f"  ok   {msg}")


def check(name, problems):
    """Records one named check; problems is a list of messages (empty = passed)."""
    global checks, failed_checks
    checks += 1
    if problems:
        failed_checks += 1
        for p in problems:
            fail(f"{name}: {p}")
    else:
        ok(name)


# ---- scrapes ----------------------------------------------------------------------------------------------
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_labels(text, where):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        if not m:
            raise ValueError(f"{where}: cannot parse labels at '{text[pos:pos + 40]}'")
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def parse_scrape(path):
    """[(name, labels, value, type)] of a Prometheus text exposition."""
    types, samples = {}, []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                types[name] = kind
                continue
            if line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m:
                raise ValueError(f"{path}:{n}: not a sample line: {line[:80]}")
            name = m.group(1)
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            kind = types.get(name) or types.get(base) or "untyped"
            samples.append((name, parse_labels(m.group(3) or "", f"{path}:{n}"), m.group(4), kind))
    return samples


def parse_extra(path):
    """Lines `target series value [proposed]`; comments say why each series is there."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            target = parts[0]
            proposed = parts[-1] == "proposed"
            if proposed:
                parts = parts[:-1]
            m = SAMPLE.match(" ".join(parts[1:]))
            if target not in TARGETS or not m:
                raise ValueError(f"{path}:{n}: expected 'gateway|silo name{{labels}} value [proposed]', got: {line}")
            out.append({"target": target, "name": m.group(1), "labels": parse_labels(m.group(3) or "", f"{path}:{n}"),
                        "value": m.group(4), "proposed": proposed, "where": f"{os.path.relpath(path, ROOT)}:{n}"})
    return out


# ---- PromQL: vector selectors -----------------------------------------------------------------------------
TOKEN = re.compile(r'''\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<num>[0-9][0-9a-zA-Z.]*|\.[0-9]+)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}\[\],@])
)''', re.X)
LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "Inf", "NaN"} | LIST_KEYWORDS
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
                "quantile", "limitk", "limit_ratio"}


def tokenize(expr):
    tokens, pos = [], 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot tokenize at '{expr[pos:pos + 30]}' in: {expr}")
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def substitute(expr):
    for var, value in RATE_VARS.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?([a-zA-Z_]+)\}?", ".+", expr)


def selectors(expr):
    """[(metric or None, [(label, op, value)])] of every vector selector in a PromQL expression, and the
    labels its by/without/on/ignoring/group_* clauses name."""
    toks = tokenize(substitute(expr))
    out, i, grouping = [], 0, set()

    def matchers(j):
        found = []
        assert toks[j] == ("op", "{")
        j += 1
        while toks[j] != ("op", "}"):
            if toks[j] == ("op", ","):
                j += 1
                continue
            label, op, value = toks[j][1], toks[j + 1][1], toks[j + 2][1]
            found.append((label, op, value[1:-1]))
            j += 3
        return found, j + 1

    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "ident" and text in LIST_KEYWORDS and nxt == ("op", "("):
            while toks[i] != ("op", ")"):
                if toks[i][0] == "ident" and i > 0 and toks[i - 1][1] in ("(", ","):
                    grouping.add(toks[i][1])
                i += 1
            i += 1
        elif kind == "ident" and (nxt == ("op", "(") or text in AGGREGATIONS):
            i += 1                                   # a function or an aggregation (`sum by (le) (...)`)
        elif kind == "ident" and text not in KEYWORDS:
            if nxt == ("op", "{"):
                found, i = matchers(i + 1)
            else:
                found, i = [], i + 1
            out.append((text, found))
        elif (kind, text) == ("op", "{"):
            found, i = matchers(i)
            out.append((None, found))
        elif (kind, text) == ("op", "["):
            while toks[i] != ("op", "]"):
                i += 1
            i += 1
        else:
            i += 1
    return out, grouping


# ---- sources of expressions -------------------------------------------------------------------------------
def dashboard_exprs(dash):
    """[(where, expr)] for every query of the dashboard, template variables included."""
    out = []
    for p in dash.get("panels", []):
        for t in p.get("targets", []) or []:
            if t.get("expr"):
                out.append((f'panel "{p.get("title")}" {t.get("refId")}', t["expr"]))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_]+)\)\s*", q or "")
        if not m:
            out.append((f"variable ${v.get('name')}", q or ""))
        else:
            out.append((f"variable ${v.get('name')}", m.group(1)))
    return out


def rule_exprs(rules):
    return [(f"alert {r.get('alert') or r.get('record')}", r["expr"]) for g in rules["groups"] for r in g["rules"]]


# ---- checks -----------------------------------------------------------------------------------------------
def github_slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def check_dashboard(dash):
    problems = []
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        if key not in dash:
            problems.append(f"no '{key}'")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no template variable 'datasource' of type datasource (query prometheus)")
    if "__inputs" in dash:
        problems.append("__inputs is set: provisioned dashboards (ConfigMap sidecar) do not substitute it; use the datasource variable")
    ids, cells = set(), []
    for p in dash.get("panels", []):
        where = f'panel "{p.get("title")}"'
        if p.get("type") not in BUILTIN_PANELS:
            problems.append(f"{where}: type {p.get('type')} is not a built-in panel")
        if p.get("id") in ids:
            problems.append(f"{where}: duplicate id {p.get('id')}")
        ids.add(p.get("id"))
        g = p.get("gridPos") or {}
        if not all(k in g for k in "hwxy") or g["x"] + g["w"] > 24:
            problems.append(f"{where}: gridPos {g} missing or wider than 24")
        else:
            for other, og in cells:
                if g["x"] < og["x"] + og["w"] and og["x"] < g["x"] + g["w"] and g["y"] < og["y"] + og["h"] and og["y"] < g["y"] + g["h"]:
                    problems.append(f"{where} overlaps {other}")
            cells.append((where, g))
        if p.get("type") == "row":
            continue
        if not p.get("description"):
            problems.append(f"{where}: no description")
        refs = set()
        for t in [p] + (p.get("targets") or []):
            uid = (t.get("datasource") or {}).get("uid")
            if uid != "${datasource}":
                problems.append(f"{where}: datasource uid {uid!r}, expected '${{datasource}}'")
        for t in p.get("targets") or []:
            if t.get("refId") in refs:
                problems.append(f"{where}: duplicate refId {t.get('refId')}")
            refs.add(t.get("refId"))
            if not t.get("expr"):
                problems.append(f"{where}: a target without expr")
        if not p.get("targets"):
            problems.append(f"{where}: no targets")
    for r in dash.get("__requires", []):
        if r.get("type") == "panel" and r.get("id") not in BUILTIN_PANELS:
            problems.append(f"__requires the plugin {r.get('id')}")
    return problems


def check_rules_meta(rules, tests):
    problems = []
    headings = set()
    with open(OPERATIONS, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^#+\s+(.*)$", line)
            if m:
                headings.add(github_slug(m.group(1)))
    firing, quiet = set(), set()
    for t in tests["tests"]:
        for a in t.get("alert_rule_test", []) or []:
            (firing if a.get("exp_alerts") else quiet).add(a["alertname"])
    for g in rules["groups"]:
        for r in g["rules"]:
            name = r.get("alert")
            if not name:
                continue
            if r.get("labels", {}).get("severity") not in SEVERITIES:
                problems.append(f"{name}: severity label must be one of {sorted(SEVERITIES)}")
            if not r.get("for"):
                problems.append(f"{name}: no 'for:' duration")
            ann = r.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                if not ann.get(key):
                    problems.append(f"{name}: no {key} annotation")
            m = re.fullmatch(r"docs/operations\.md#([a-z0-9_-]+)", ann.get("runbook_url", ""))
            if not m:
                problems.append(f"{name}: runbook_url {ann.get('runbook_url')!r} is not docs/operations.md#<section>")
            elif m.group(1) not in headings:
                problems.append(f"{name}: runbook section #{m.group(1)} is not a heading of docs/operations.md")
            if name not in firing:
                problems.append(f"{name}: no unit test where it fires (alerts.test.yaml)")
            if name not in quiet:
                problems.append(f"{name}: no unit test where it stays quiet (alerts.test.yaml)")
    return problems


def meter_instruments():
    with open(METERS, encoding="utf-8") as f:
        return {m.group(1) for m in re.finditer(r'const string \w+ = "(invexqr\.[^"]+)"', f.read())}


def exported_name_matches(prom_name, instrument):
    stem = instrument.replace(".", "_")
    return re.fullmatch(re.escape(stem) + r"(_[a-z]+)?(_total)?(_bucket|_sum|_count)?", prom_name) is not None


def check_extra(extra, real):
    """extra-series.txt: realistic variants of real series, or metrics the product declares but a short run
    does not export (counters that appear at their first increment), or proposed ones."""
    problems, notices = [], []
    instruments = meter_instruments()
    real_names = {}
    for target, samples in real.items():
        for name, labels, _, _ in samples:
            real_names.setdefault(name, []).append((target, labels))
    for e in extra:
        name, where = e["name"], e["where"]
        if name in real_names:
            same_target = [l for t, l in real_names[name] if t == e["target"]]
            if not same_target:
                problems.append(f"{where}: {name} is exported by the other process, not the {e['target']}")
            elif not any(set(l) == set(e["labels"]) for l in same_target):
                problems.append(f"{where}: labels {sorted(e['labels'])} differ from the real {name} series' {sorted(same_target[0])}")
            elif any(l == e["labels"] for l in same_target):
                problems.append(f"{where}: {name}{e['labels']} is in the real scrape now: remove this line")
            if e["proposed"]:
                problems.append(f"{where}: {name} is exported now: drop 'proposed'")
        elif e["proposed"]:
            notices.append(f"{name} is PROPOSED, not exported yet ({where})")
        elif not any(exported_name_matches(name, i) for i in instruments):
            problems.append(f"{where}: {name} is neither in the real scrapes nor an instrument of InvexQrMeters.cs (renamed?)")
        else:
            notices.append(f"{name}: declared in InvexQrMeters.cs, absent from a short run's scrape ({where})")
    return problems, notices


def check_names(sources, known):
    """Every selector names a metric the processes export, with label names that metric has."""
    problems = []
    for where, expr in sources:
        try:
            sels, grouping = selectors(expr)
        except (ValueError, IndexError) as e:
            problems.append(f"{where}: cannot parse: {e}")
            continue
        if not sels:
            problems.append(f"{where}: no metric in '{expr}'")
        for metric, matchers in sels:
            if metric is None:
                metric = next((v for l, o, v in matchers if l == "__name__" and o == "="), None)
                if metric is None:
                    problems.append(f"{where}: a selector without a metric name")
                    continue
            if metric not in known:
                problems.append(f"{where}: metric {metric} is not exported (not in the fixtures)")
                continue
            for label, _, _ in matchers:
                if label not in known[metric] and label not in TARGET_LABELS and label != "__name__":
                    problems.append(f"{where}: {metric} has no label '{label}' (it has {sorted(known[metric] - TARGET_LABELS)})")
        available = set(TARGET_LABELS).union(*[known.get(m, set()) for m, _ in sels if m])
        for label in sorted(grouping - available):
            problems.append(f"{where}: groups by '{label}', a label none of its metrics has")
    return problems


def series_text(name, labels):
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def promtool_value(raw):
    return {"+Inf": "Inf", "-Inf": "-Inf", "NaN": "NaN"}.get(raw, raw)


def eval_inputs(real, extra):
    """promtool input series: every sample, counters growing by their value each minute, gauges flat."""
    series = []
    for target, samples in real.items():
        job, instance = TARGETS[target]
        for name, labels, value, kind in samples:
            series.append((name, {**labels, "job": job, "instance": instance}, value, kind))
        series.append(("up", {"job": job, "instance": instance}, "1", "gauge"))
    for e in extra:
        job, instance = TARGETS[e["target"]]
        kind = "counter" if re.search(r"(_total|_bucket|_sum|_count)$", e["name"]) else "gauge"
        series.append((e["name"], {**e["labels"], "job": job, "instance": instance}, e["value"], kind))
    out = []
    for name, labels, value, kind in series:
        v = promtool_value(value)
        grows = kind in ("counter", "histogram") and v not in ("Inf", "-Inf", "NaN")
        values = f"{v}+{v}x15" if grows else " ".join([v] * 16)
        out.append({"series": series_text(name, labels), "values": values})
    return out


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def check_eval(sources, inputs, tmp):
    """promtool evaluates every dashboard query over the fixture series: each must parse and return data."""
    def attempt(batch):
        tests = [{"expr": f"count(({substitute(expr)})) > bool 0", "eval_time": "10m",
                  "exp_samples": [{"labels": "{}", "value": 1}]} for _, expr in batch]
        path = os.path.join(tmp, "dashboard-eval.test.yaml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump({"rule_files": [], "evaluation_interval": "1m",
                            "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": tests}]}, f, width=10_000)
        return run(["promtool", "test", "rules", path])

    if attempt(sources).returncode == 0:
        return []
    problems = []                                    # find the failing queries one by one
    for where, expr in sources:
        r = attempt([(where, expr)])
        if r.returncode != 0:
            got = re.search(r"got: (.*)", r.stdout + r.stderr)
            detail = f"got {got.group(1).strip()}" if got else (r.stdout + r.stderr).strip()[-300:]
            problems.append(f"{where}: no data on the fixtures ({detail}): {expr}")
    return problems or ["promtool failed on the whole batch but on no single query"]


def check_mutations(rules_text, rules, tests, tmp):
    """Each alert's unit tests must fail when the alert can never fire: no test passes by accident. Each
    broken copy runs only the tests of its alert, two at a time."""
    names = [r["alert"] for g in rules["groups"] for r in g["rules"] if r.get("alert")]

    def one(name):
        work = os.path.join(tmp, f"mutation-{name}")
        os.makedirs(work)
        broken = yaml.safe_load(rules_text)
        for g in broken["groups"]:
            for r in g["rules"]:
                if r.get("alert") == name:
                    r["expr"] = "vector(0) > 1"
        mine = []
        for t in tests["tests"]:
            checks_of_name = [a for a in t.get("alert_rule_test", []) or [] if a["alertname"] == name]
            if checks_of_name:
                mine.append({**{k: v for k, v in t.items() if k != "promql_expr_test"}, "alert_rule_test": checks_of_name})
        with open(os.path.join(work, "alerts.yaml"), "w", encoding="utf-8") as f:
            yaml.safe_dump(broken, f, sort_keys=False)
        with open(os.path.join(work, "alerts.test.yaml"), "w", encoding="utf-8") as f:
            yaml.safe_dump({**tests, "tests": mine}, f, sort_keys=False)
        res = run(["promtool", "test", "rules", "alerts.test.yaml"], cwd=work)
        return None if res.returncode != 0 else f"{name}: the unit tests still pass when it can never fire"

    with ThreadPoolExecutor(max_workers=2) as pool:
        return [p for p in pool.map(one, names) if p]


# ---- k8s/monitoring ---------------------------------------------------------------------------------------
GENERATED = "# GENERATED by scripts/check-monitoring.sh --write from {src}: edit that file, not this one.\n"


def indent(text, n):
    pad = " " * n
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))


def render_k8s(dash_text, rules_text):
    rules_body = "".join(l for l in rules_text.splitlines(True) if not l.startswith("#")).lstrip("\n")
    configmap = (GENERATED.format(src="deploy/monitoring/grafana-dashboard.json") +
                 "# Grafana's dashboard sidecar loads ConfigMaps labelled grafana_dashboard: \"1\" from the namespaces it\n"
                 "# watches (by default its own: change the namespace below to Grafana's).\n"
                 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: invexqr-grafana-dashboard\n  namespace: monitoring\n"
                 "  labels:\n    grafana_dashboard: \"1\"\n    app.kubernetes.io/part-of: invexqr\n"
                 "data:\n  invexqr.json: |\n" + indent(dash_text.rstrip("\n") + "\n", 4))
    rule = (GENERATED.format(src="deploy/monitoring/alerts.yaml") +
            "# Needs the Prometheus Operator's CRDs. Its Prometheus must select this object: kube-prometheus-stack\n"
            "# selects rules labelled release: <its Helm release> unless ruleSelectorNilUsesHelmValues=false.\n"
            "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: invexqr\n  namespace: monitoring\n"
            "  labels:\n    app.kubernetes.io/part-of: invexqr\n"
            "spec:\n" + indent(rules_body, 2))
    return {"grafana-dashboard.yaml": configmap, "prometheus-rule.yaml": rule}


def check_k8s(generated, dash, rules, write):
    problems = []
    for name, text in generated.items():
        path = os.path.join(K8S, name)
        if write:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if current != text:
            problems.append(f"k8s/monitoring/{name} is out of date: run scripts/check-monitoring.sh --write")
    cm = yaml.safe_load(generated["grafana-dashboard.yaml"])
    if json.loads(cm["data"]["invexqr.json"]) != dash:
        problems.append("the ConfigMap's dashboard differs from grafana-dashboard.json")
    if len(generated["grafana-dashboard.yaml"].encode()) > 200_000:
        problems.append("the dashboard ConfigMap is over 200 kB (kubectl apply's annotation limit is 256 kB)")
    if yaml.safe_load(generated["prometheus-rule.yaml"])["spec"] != rules:
        problems.append("the PrometheusRule's spec differs from alerts.yaml")
    # PodMonitors: pods, port and job names must be those of k8s/base and of the rules.
    monitors = [d for d in yaml.safe_load_all(open(os.path.join(K8S, "pod-monitors.yaml"), encoding="utf-8")) if d]
    deployments = {}
    for f in ("silo.yaml", "gateway.yaml"):
        for d in yaml.safe_load_all(open(os.path.join(K8S_BASE, f), encoding="utf-8")):
            if d and d.get("kind") in ("Deployment", "StatefulSet"):  # the silos are a StatefulSet (spool claims)
                deployments[d["metadata"]["name"]] = d
    jobs = set()
    for m in monitors:
        name = m["metadata"]["name"]
        sel = m["spec"]["selector"]["matchLabels"]
        match = [d for d in deployments.values() if sel.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        if len(match) != 1:
            problems.append(f"PodMonitor {name}: selector {sel} matches {len(match)} workloads of k8s/base, not 1")
            continue
        pod = match[0]["spec"]["template"]
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        annotations = pod["metadata"].get("annotations", {})
        if m["spec"].get("namespaceSelector", {}).get("matchNames") != ["invexqr"]:
            problems.append(f"PodMonitor {name}: namespaceSelector must be matchNames [invexqr]")
        for ep in m["spec"]["podMetricsEndpoints"]:
            if ep.get("port") not in ports:
                problems.append(f"PodMonitor {name}: port {ep.get('port')} is not a container port of {match[0]['metadata']['name']} {sorted(ports)}")
            if ep.get("path") != annotations.get("prometheus.io/path"):
                problems.append(f"PodMonitor {name}: path {ep.get('path')} differs from the pod's prometheus.io/path")
            for rl in ep.get("relabelings", []):
                if rl.get("targetLabel") == "job":
                    jobs.add(rl.get("replacement"))
    wanted = {j for j, _ in TARGETS.values()}
    if jobs != wanted:
        problems.append(f"the PodMonitors set job to {sorted(jobs)}, the rules need {sorted(wanted)}")
    return problems


def check_configs(tmp):
    """promtool check config on each example. Debian's promtool is built without Kubernetes discovery, so
    a copy with a static target in its place checks the rest (relabelling, rule files)."""
    problems = []
    wanted = {j for j, _ in TARGETS.values()}
    for name in sorted(os.listdir(MON)):
        if not re.fullmatch(r"prometheus-.*\.yml", name):
            continue
        config = yaml.safe_load(open(os.path.join(MON, name), encoding="utf-8"))
        jobs = set()
        for sc in config.get("scrape_configs", []):
            jobs.add(sc["job_name"])
            for rl in sc.get("relabel_configs", []):
                if rl.get("target_label") == "job":
                    rep = rl.get("replacement", "$1")
                    keep = [k for k in sc["relabel_configs"] if k.get("action") == "keep"
                            and k.get("source_labels") == rl.get("source_labels")]
                    values = keep[0]["regex"].split("|") if keep and "$1" in rep else [rep]
                    jobs |= {rep.replace("$1", v) for v in values}
            if sc.pop("kubernetes_sd_configs", None) is not None:
                sc["static_configs"] = [{"targets": ["127.0.0.1:8081"]}]
        shutil.copy(os.path.join(MON, "alerts.yaml"), os.path.join(tmp, "alerts.yaml"))
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        r = run(["promtool", "check", "config", name], cwd=tmp)
        if r.returncode != 0:
            problems.append(f"promtool check config {name}: {(r.stdout + r.stderr).strip()}")
        if not wanted <= jobs:
            problems.append(f"{name}: scrapes the jobs {sorted(jobs)}, the rules need {sorted(wanted)}")
    return problems


def main():
    write = "--write" in sys.argv[1:]
    unknown = [a for a in sys.argv[1:] if a != "--write"]
    if unknown:
        print(f"usage: check.py [--write] (unknown: {' '.join(unknown)})", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="check-monitoring.")
    try:
        return run_checks(write, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_geo_age(rules):
    """The stale-geo alert's threshold in days equals GeoOptions.MaxAgeDays' default."""
    m = re.search(r"int MaxAgeDays \{ get; set; \} = (\d+);", open(GEO_OPTIONS, encoding="utf-8").read())
    if not m:
        return [f"no 'int MaxAgeDays {{ get; set; }} = N;' in {os.path.relpath(GEO_OPTIONS, ROOT)}"]
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == "InvexQrGeoDatabaseStale"]
    if len(exprs) != 1:
        return [f"{len(exprs)} InvexQrGeoDatabaseStale rules"]
    t = re.search(r">\s*(\d+)\s*\*\s*86400\s*$", exprs[0].strip())
    if not t:
        return [f"threshold not '> N * 86400' in: {exprs[0].strip()}"]
    return [] if t.group(1) == m.group(1) else [f"alert at {t.group(1)} days, Geo:MaxAgeDays defaults to {m.group(1)}"]


def run_checks(write, tmp):
    print("== alert rules (promtool)")
    r = run(["promtool", "check", "rules", RULES])
    check("promtool check rules alerts.yaml", [] if r.returncode == 0 else [(r.stdout + r.stderr).strip()])
    r = run(["promtool", "test", "rules", "alerts.test.yaml"], cwd=MON)
    check("promtool test rules alerts.test.yaml", [] if r.returncode == 0 else [(r.stdout + r.stderr).strip()])
    rules_text = open(RULES, encoding="utf-8").read()
    rules = yaml.safe_load(rules_text)
    tests = yaml.safe_load(open(RULE_TESTS, encoding="utf-8"))
    check("every alert: severity, for, summary, description, runbook section, a firing and a quiet test",
          check_rules_meta(rules, tests))
    check("every alert's tests fail when it can never fire", check_mutations(rules_text, rules, tests, tmp))
    check("InvexQrGeoDatabaseStale fires at Geo:MaxAgeDays, as /health/ready turns Degraded", check_geo_age(rules))

    print("== dashboard")
    dash_text = open(DASHBOARD, encoding="utf-8").read()
    try:
        dash = json.loads(dash_text)
    except json.JSONDecodeError as e:
        check("grafana-dashboard.json is JSON", [str(e)])
        return finish()
    check("grafana-dashboard.json: importable shape, datasource variable, built-in panels only", check_dashboard(dash))

    print("== metric names against the real scrapes (deploy/monitoring/fixtures)")
    real = {t: parse_scrape(os.path.join(FIX, f"{t}.prom")) for t in TARGETS}
    fresh = {t: parse_scrape(os.path.join(FIX, f"{t}-fresh.prom")) for t in TARGETS}
    extra = parse_extra(EXTRA)
    problems, notices = check_extra(extra, real)
    check("extra-series.txt: realistic variants, declared or proposed metrics only", problems)
    known = {n: set(l) for n, l in SYNTHETIC.items()}
    for samples in real.values():
        for name, labels, _, _ in samples:
            known.setdefault(name, set()).update(labels)
    for e in extra:
        known.setdefault(e["name"], set()).update(e["labels"])
    dash_sources, rule_sources = dashboard_exprs(dash), rule_exprs(rules)
    check(f"the dashboard's {len(dash_sources)} queries name exported metrics and labels", check_names(dash_sources, known))
    check(f"the {len(rule_sources)} alert rules name exported metrics and labels", check_names(rule_sources, known))
    check("every dashboard query returns data on the fixtures (promtool)", check_eval(dash_sources, eval_inputs(real, extra), tmp))
    for n in notices:
        print(f"  note {n}")
    fresh_names = {n for s in fresh.values() for n, _, _, _ in s} | set(SYNTHETIC)
    used = sorted({m for _, e in dash_sources + rule_sources for m, _ in selectors(e)[0] if m} - fresh_names)
    if used:
        print(f"  note not exported by a just-started process (they appear on first use): {', '.join(used)}")

    print("== k8s/monitoring and example Prometheus configs")
    check("k8s/monitoring matches deploy/monitoring; PodMonitors match k8s/base and the job names",
          check_k8s(render_k8s(dash_text, rules_text), dash, rules, write))
    check("prometheus-*.yml pass promtool check config and name both jobs", check_configs(tmp))
    if shutil.which("kubectl"):
        r = run(["kubectl", "kustomize", K8S])
        kinds = sorted(d["kind"] for d in yaml.safe_load_all(r.stdout) if d) if r.returncode == 0 else []
        check("kubectl kustomize k8s/monitoring renders the ConfigMap, two PodMonitors and the PrometheusRule",
              [] if kinds == ["ConfigMap", "PodMonitor", "PodMonitor", "PrometheusRule"]
              else [f"rendered {kinds or (r.stdout + r.stderr).strip()}"])
    else:
        print("  note kubectl not found: k8s/monitoring not rendered (scripts/validate-deploy.sh installs it)")
    return finish()


def finish():
    print(f"\ncheck-monitoring: {checks - failed_checks} passed, {failed_checks} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
