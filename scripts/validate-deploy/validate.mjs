#!/usr/bin/env node
// Validates InvexQR's deployment files. Normally run through scripts/validate-deploy.sh, which renders the
// overlays first:
//   node validate.mjs --root <repo> --overlay dev=<rendered dev.yaml> --overlay prod=<rendered prod.yaml>
//   node validate.mjs --self-test --root <repo> --overlay dev=<rendered dev.yaml>
// The self-test breaks copies of the real dev render and of docker-compose.yml on purpose and asserts that
// each breakage is rejected by the check meant to catch it (and that the unbroken inputs pass).
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { checkManifests } from "./rules.mjs";
import { checkCompose, checkDockerfiles, parseCompose } from "./compose.mjs";

function parseArgs(argv) {
  const out = { overlays: {}, selfTest: false, root: path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..") };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--self-test") out.selfTest = true;
    else if (a === "--root") out.root = path.resolve(argv[++i]);
    else if (a === "--overlay") { const [name, file] = argv[++i].split("="); out.overlays[name] = file; }
    else { console.error(`unknown argument ${a}`); process.exit(2); }
  }
  return out;
}

export function loadRendered(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS()).filter((o) => o !== null);
}

async function validateAll(opts) {
  const reports = [];
  for (const [name, file] of Object.entries(opts.overlays)) {
    console.log(`\n== k8s/overlays/${name} (${file})`);
    const objects = loadRendered(file);
    console.log(`   ${objects.length} objects: ${[...new Set(objects.map((o) => o.kind))].join(", ")}`);
    const r = await checkManifests(objects, name);
    r.print();
    reports.push(r);
  }
  console.log("\n== docker-compose.yml");
  const composeFile = path.join(opts.root, "docker-compose.yml");
  if (!fs.existsSync(composeFile)) { console.log("  FAIL docker-compose.yml is missing"); return 1; }
  const c = checkCompose(parseCompose(fs.readFileSync(composeFile, "utf8")), opts.root);
  c.print();
  reports.push(c);
  console.log("\n== Dockerfiles");
  const d = checkDockerfiles(opts.root);
  d.print();
  reports.push(d);
  const failed = reports.flatMap((r) => r.failed.map((f) => `[${r.label}] ${f.name}`));
  const total = reports.reduce((n, r) => n + r.results.length, 0);
  console.log(`\n${total - failed.length} passed, ${failed.length} failed`);
  if (failed.length) {
    console.error(`\nvalidate-deploy: FAILED:\n${failed.map((f) => `  - ${f}`).join("\n")}`);
    return 1;
  }
  return 0;
}

// ---- self-test ------------------------------------------------------------------------------------------------
const byKind = (objs, kind, name) => objs.find((o) => o.kind === kind && (!name || o.metadata.name === name));
const siloContainer = (objs) => byKind(objs, "Deployment", "silo").spec.template.spec.containers[0];
const gatewayContainer = (objs) => byKind(objs, "Deployment", "gateway").spec.template.spec.containers[0];

const K8S_CASES = [
  ["Service selector matches no pod", "selectors", (o) => { byKind(o, "Service", "gateway").spec.selector["app.kubernetes.io/component"] = "gatewy"; }],
  ["PDB selector matches no pod", "selectors", (o) => { byKind(o, "PodDisruptionBudget", "silo").spec.selector.matchLabels["app.kubernetes.io/component"] = "silos"; }],
  ["Deployment selector differs from its template", "selectors", (o) => { byKind(o, "Deployment", "silo").spec.template.metadata.labels["app.kubernetes.io/component"] = "silo-x"; }],
  ["readiness probe on /healthz", "probes", (o) => { siloContainer(o).readinessProbe.httpGet.path = "/healthz"; }],
  ["liveness probe on the silo port instead of HTTP", "probes", (o) => { gatewayContainer(o).livenessProbe.httpGet.port = 8081; }],
  ["startup probe missing", "probes", (o) => { delete gatewayContainer(o).startupProbe; }],
  ["/metrics routed by the Ingress", "Ingress routes", (o) => { byKind(o, "Ingress").spec.rules[0].http.paths.push({ path: "/metrics", pathType: "Prefix", backend: { service: { name: "gateway", port: { name: "http" } } } }); }],
  ["/orleans routed by the Ingress", "Ingress routes", (o) => { byKind(o, "Ingress").spec.rules[0].http.paths.push({ path: "/orleans", pathType: "Prefix", backend: { service: { name: "gateway", port: { name: "http" } } } }); }],
  ["/ as Prefix (exposes everything)", "Ingress routes", (o) => { byKind(o, "Ingress").spec.rules[0].http.paths.find((p) => p.path === "/").pathType = "Prefix"; }],
  ["schema: replicas is a string", "OpenAPI schema", (o) => { byKind(o, "Deployment", "silo").spec.replicas = "two"; }],
  ["schema: containerPort is a string", "OpenAPI schema", (o) => { siloContainer(o).ports[0].containerPort = "8081"; }],
  ["schema: misspelt field readinesProbe", "OpenAPI schema", (o) => { const c = siloContainer(o); c.readinesProbe = c.readinessProbe; delete c.readinessProbe; }],
  ["unknown kind", "OpenAPI schema", (o) => { o.push({ apiVersion: "v1", kind: "Frobnicator", metadata: { name: "x", namespace: "invexqr" } }); }],
  ["RBAC Role present", "RBAC", (o) => { o.push({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "pods", namespace: "invexqr" }, rules: [] }); }],
  ["grace period 20 s < ShutdownTimeoutSeconds 30", "terminationGracePeriodSeconds", (o) => { byKind(o, "Deployment", "silo").spec.template.spec.terminationGracePeriodSeconds = 20; }],
  ["ShutdownTimeoutSeconds raised above the grace period", "terminationGracePeriodSeconds", (o) => { byKind(o, "ConfigMap", "invexqr-silo").data.ShutdownTimeoutSeconds = "60"; }],
  ["Orleans__SiloPort differs from containerPort", "ports", (o) => { siloContainer(o).env.find((e) => e.name === "Orleans__SiloPort").value = "11112"; }],
  ["gateway listens on 5000", "ports", (o) => { gatewayContainer(o).env.find((e) => e.name === "ASPNETCORE_URLS").value = "http://+:5000"; }],
  ["unknown env name (typo)", "env:", (o) => { siloContainer(o).env.push({ name: "Orleans__SiloPortt", value: "1" }); }],
  ["gateway-only setting on the silo", "env:", (o) => { byKind(o, "ConfigMap", "invexqr-silo").data.Gateway__PublicBaseUrl = "https://x"; }],
  ["Privacy__IpMode not an allowed value", "env:", (o) => { byKind(o, "ConfigMap", "invexqr-silo").data.Privacy__IpMode = "anonymise"; }],
  ["AdvertisedIP not from the pod IP", "env:", (o) => { siloContainer(o).env.find((e) => e.name === "Orleans__AdvertisedIP").value = "127.0.0.1"; }],
  ["Secret reference to a missing Secret", "Secrets referenced", (o) => { gatewayContainer(o).env.find((e) => e.name === "Auth__ApiKey").valueFrom.secretKeyRef.name = "invexqr-secret"; }],
  ["migration Job does not run migrate", "migration Job", (o) => { byKind(o, "Job", "migrate").spec.template.spec.containers[0].args = ["retention"]; }],
  ["silos migrate on start-up", "migration Job", (o) => { byKind(o, "ConfigMap", "invexqr-silo").data.Database__MigrateOnStartup = "true"; }],
  ["dev with two PostgreSQL StatefulSets", "database", (o) => { const pg = structuredClone(byKind(o, "StatefulSet", "postgres")); pg.metadata.name = "postgres-2"; o.push(pg); }],
  ["dev connection string names the wrong host", "database", (o) => { byKind(o, "Secret", "invexqr-secrets").stringData.ConnectionStrings__Postgres = "Host=db;Port=5432;Database=invexqr;Username=invexqr;Password=invexqr-dev-password"; }],
  ["PostgreSQL open to every pod", "NetworkPolicies", (o) => { byKind(o, "NetworkPolicy", "postgres").spec.ingress[0].from = undefined; delete byKind(o, "NetworkPolicy", "postgres").spec.ingress[0].from; }],
  ["silo port 11111 open to gateways", "NetworkPolicies", (o) => { byKind(o, "NetworkPolicy", "silo").spec.ingress[1].ports.push({ protocol: "TCP", port: 11111 }); }],
  ["container without limits", "resources", (o) => { delete siloContainer(o).resources.limits; }],
  ["container may escalate privileges", "security", (o) => { gatewayContainer(o).securityContext.allowPrivilegeEscalation = true; }],
  ["gateway Deployment pins replicas under an HPA", "availability", (o) => { byKind(o, "Deployment", "gateway").spec.replicas = 3; }],
];
// The dev render used as prod must fail: prod may not run PostgreSQL, needs HPA min >= 2 and pinned images.
const PROD_CASES = [
  ["PostgreSQL StatefulSet in prod", "database", () => {}],
  ["HPA minReplicas 1 in prod", "availability", (o) => { o.splice(0, o.length, ...o.filter((x) => !/postgres/.test(x.metadata.name))); }],
];
const COMPOSE_CASES = [
  ["missing migrate service", "services", (c) => { delete c.services.migrate; }],
  ["depends_on a missing service", "depends_on", (c) => { c.services.gateway.depends_on.silo3 = { condition: "service_healthy" }; }],
  ["silo does not wait for migrate to complete", "depends_on", (c) => { c.services.silo1.depends_on.migrate.condition = "service_started"; }],
  ["two silos with one SiloName", "silos: distinct", (c) => { c.services.silo2.environment.Orleans__SiloName = c.services.silo1.environment.Orleans__SiloName; }],
  ["two silos on one host port", "silos: distinct", (c) => { c.services.silo2.ports = [...c.services.silo1.ports]; }],
  ["unknown env name", "env names", (c) => { c.services.gateway.environment.Gateway__BaseUrl = "http://x"; }],
  ["gateway's database host is not the postgres service", "connection strings", (c) => { c.services.gateway.environment.ConnectionStrings__Postgres = "Host=localhost;Port=5432;Database=invexqr;Username=invexqr;Password=invexqr-local"; }],
  ["silo without a healthcheck", "healthchecks", (c) => { delete c.services.silo2.healthcheck; }],
];

async function selfTest(opts) {
  const devFile = opts.overlays.dev;
  if (!devFile) { console.error("--self-test needs --overlay dev=<rendered dev.yaml>"); return 2; }
  const dev = loadRendered(devFile);
  const composeText = fs.readFileSync(path.join(opts.root, "docker-compose.yml"), "utf8");
  let failures = 0;
  let baselines = 0;
  const run = async (label, cases, base, checker, { baseline: wantBaseline = true } = {}) => {
    if (!wantBaseline) return runCases(label, cases, base, checker);
    baselines++;
    const baseline = await checker(structuredClone(base));
    if (!baseline.failed.length) console.log(`  ok   [self-test] ${label}: the unbroken input passes`);
    else {
      console.log(`  FAIL [self-test] ${label}: the unbroken input already fails (${baseline.failed.map((f) => f.name).join("; ")})`);
      failures++;
    }
    return runCases(label, cases, base, checker);
  };
  const runCases = async (label, cases, base, checker) => {
    for (const [name, expectCheck, mutate] of cases) {
      const input = structuredClone(base);
      mutate(input);
      const r = await checker(input);
      const hit = r.failed.find((f) => f.name.includes(expectCheck));
      if (hit) console.log(`  ok   [self-test] ${label}: rejected "${name}" -> ${hit.errors[0]}`);
      else {
        failures++;
        console.log(`  FAIL [self-test] ${label}: "${name}" was NOT rejected by the "${expectCheck}" check${r.failed.length ? ` (other failures: ${r.failed.map((f) => f.name).join("; ")})` : ""}`);
      }
    }
  };
  console.log("\n== self-test: deliberately broken inputs must be rejected");
  await run("k8s dev", K8S_CASES, dev, (o) => checkManifests(o, "dev"));
  // The dev render checked as prod fails by construction, so it has no baseline.
  await run("k8s dev-as-prod", PROD_CASES, dev, (o) => checkManifests(o, "prod"), { baseline: false });
  await run("compose", COMPOSE_CASES, parseCompose(composeText), (c) => checkCompose(c, opts.root));
  const total = K8S_CASES.length + PROD_CASES.length + COMPOSE_CASES.length;
  console.log(`\n${total + baselines - failures} passed, ${failures} failed`);
  if (failures) console.error(`validate-deploy --self-test: ${failures} broken input(s) slipped through or a baseline failed`);
  return failures ? 1 : 0;
}

const opts = parseArgs(process.argv.slice(2));
process.exit(opts.selfTest ? await selfTest(opts) : await validateAll(opts));
