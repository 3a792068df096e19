#!/usr/bin/env node
// Validates InvexQR's deployment files. Normally run through scripts/validate-deploy.sh, which renders the
// overlays first:
//   node validate.mjs --root <repo> --overlay dev=<rendered dev.yaml> --overlay prod=<rendered prod.yaml>
//   node validate.mjs --self-test --root <repo> --overlay dev=<rendered dev.yaml> \
//     --overlay prod+cert-manager-cluster-tls=<prod rendered with that component> \
//     --weak-overlay dev=<dev rendered with fixtures/k8s-weak/dev> --weak-overlay prod=<likewise>
// A name "OVERLAY+COMPONENT" is checked by OVERLAY's rules.
// The self-test breaks copies of the real dev render and of docker-compose.yml on purpose and asserts that
// each breakage is rejected by the check meant to catch it (and that the unbroken inputs pass).
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { checkManifests } from "./rules.mjs";
import { checkBuildInputs, checkCompose, checkDockerfiles, checkDockerignore, dockerfilesToCheck, parseCompose } from "./compose.mjs";

function parseArgs(argv) {
  const out = { overlays: {}, weak: {}, skipped: [], selfTest: false, root: path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..") };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--self-test") out.selfTest = true;
    else if (a === "--root") out.root = path.resolve(argv[++i]);
    else if (a === "--overlay") { const [name, file] = argv[++i].split("="); out.overlays[name] = file; }
    else if (a === "--skipped") out.skipped.push(argv[++i]);
    else if (a === "--weak-overlay") { const [name, file] = argv[++i].split("="); out.weak[name] = file; }
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
    const [overlay, ...components] = name.split("+");
    console.log(`\n== k8s/overlays/${overlay}${components.map((c) => ` + k8s/components/${c}`).join("")} (${file})`);
    const objects = loadRendered(file);
    console.log(`   ${objects.length} objects: ${[...new Set(objects.map((o) => o.kind))].join(", ")}`);
    const r = await checkManifests(objects, overlay, { label: name });
    r.print();
    reports.push(r);
  }
  console.log("\n== docker-compose.yml");
  const composeFile = path.join(opts.root, "docker-compose.yml");
  if (!fs.existsSync(composeFile)) { console.log("  FAIL docker-compose.yml is missing"); return 1; }
  const compose = parseCompose(fs.readFileSync(composeFile, "utf8"));
  const c = checkCompose(compose, opts.root);
  c.print();
  reports.push(c);
  console.log("\n== Dockerfiles");
  const d = checkDockerfiles(opts.root);
  d.print();
  reports.push(d);
  const b = checkBuildInputs(opts.root, dockerfilesToCheck(opts.root, compose));
  b.print();
  reports.push(b);
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
const siloContainer = (objs) => byKind(objs, "StatefulSet", "silo").spec.template.spec.containers[0];
const gatewayContainer = (objs) => byKind(objs, "Deployment", "gateway").spec.template.spec.containers[0];
/** Sets a Secret value the way kustomize's secretGenerator writes it (base64 data), or in stringData if it is there. */
function setSecret(objs, name, key, value) {
  const s = byKind(objs, "Secret", name);
  if (s.stringData && key in s.stringData) s.stringData[key] = value;
  else (s.data ??= {})[key] = Buffer.from(value).toString("base64");
}
const DEV_CS = (password) => `Host=postgres;Port=5432;Database=invexqr;Username=invexqr;Password=${password}`;

const K8S_CASES = [
  ["spool on an emptyDir", "spool", (o) => { const s = byKind(o, "StatefulSet", "silo"); delete s.spec.volumeClaimTemplates; s.spec.template.spec.volumes.push({ name: "spool", emptyDir: { sizeLimit: "1280Mi" } }); }],
  ["spool directory moved off its claim", "spool", (o) => { siloContainer(o).env.find((e) => e.name === "ScanSink__SpoolDirectory").value = "/tmp/spool"; }],
  ["every silo on one PersistentVolumeClaim", "spool", (o) => { const s = byKind(o, "StatefulSet", "silo"); delete s.spec.volumeClaimTemplates; s.spec.template.spec.volumes.push({ name: "spool", persistentVolumeClaim: { claimName: "spool" } }); }],
  ["spool claim smaller than SpoolCapacityBytes", "spool", (o) => { byKind(o, "StatefulSet", "silo").spec.volumeClaimTemplates[0].spec.resources.requests.storage = "512Mi"; }],
  ["spool claims deleted on scale-in", "spool", (o) => { byKind(o, "StatefulSet", "silo").spec.persistentVolumeClaimRetentionPolicy.whenScaled = "Delete"; }],
  ["Service selector matches no pod", "selectors", (o) => { byKind(o, "Service", "gateway").spec.selector["app.kubernetes.io/component"] = "gatewy"; }],
  ["PDB selector matches no pod", "selectors", (o) => { byKind(o, "PodDisruptionBudget", "silo").spec.selector.matchLabels["app.kubernetes.io/component"] = "silos"; }],
  ["StatefulSet selector differs from its template", "selectors", (o) => { byKind(o, "StatefulSet", "silo").spec.template.metadata.labels["app.kubernetes.io/component"] = "silo-x"; }],
  ["readiness probe on /healthz", "probes", (o) => { siloContainer(o).readinessProbe.httpGet.path = "/healthz"; }],
  ["liveness probe on the silo port instead of HTTP", "probes", (o) => { gatewayContainer(o).livenessProbe.httpGet.port = 8081; }],
  ["startup probe missing", "probes", (o) => { delete gatewayContainer(o).startupProbe; }],
  ["/metrics routed by the Ingress", "Ingress routes", (o) => { byKind(o, "Ingress").spec.rules[0].http.paths.push({ path: "/metrics", pathType: "Prefix", backend: { service: { name: "gateway", port: { name: "http" } } } }); }],
  ["/orleans routed by the Ingress", "Ingress routes", (o) => { byKind(o, "Ingress").spec.rules[0].http.paths.push({ path: "/orleans", pathType: "Prefix", backend: { service: { name: "gateway", port: { name: "http" } } } }); }],
  ["/ as Prefix (exposes everything)", "Ingress routes", (o) => { byKind(o, "Ingress").spec.rules[0].http.paths.find((p) => p.path === "/").pathType = "Prefix"; }],
  ["schema: replicas is a string", "OpenAPI schema", (o) => { byKind(o, "StatefulSet", "silo").spec.replicas = "two"; }],
  ["schema: containerPort is a string", "OpenAPI schema", (o) => { siloContainer(o).ports[0].containerPort = "8081"; }],
  ["schema: misspelt field readinesProbe", "OpenAPI schema", (o) => { const c = siloContainer(o); c.readinesProbe = c.readinessProbe; delete c.readinessProbe; }],
  ["unknown kind", "OpenAPI schema", (o) => { o.push({ apiVersion: "v1", kind: "Frobnicator", metadata: { name: "x", namespace: "invexqr" } }); }],
  ["RBAC Role present", "RBAC", (o) => { o.push({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "pods", namespace: "invexqr" }, rules: [] }); }],
  ["grace period 20 s < ShutdownTimeoutSeconds 30", "terminationGracePeriodSeconds", (o) => { byKind(o, "StatefulSet", "silo").spec.template.spec.terminationGracePeriodSeconds = 20; }],
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
  ["dev connection string names the wrong host", "database", (o) => { setSecret(o, "invexqr-secrets", "ConnectionStrings__Postgres", DEV_CS("x").replace("Host=postgres", "Host=db")); }],
  ["PostgreSQL open to every pod", "NetworkPolicies", (o) => { byKind(o, "NetworkPolicy", "postgres").spec.ingress[0].from = undefined; delete byKind(o, "NetworkPolicy", "postgres").spec.ingress[0].from; }],
  ["silo port 11111 open to gateways", "NetworkPolicies", (o) => { byKind(o, "NetworkPolicy", "silo").spec.ingress[1].ports.push({ protocol: "TCP", port: 11111 }); }],
  ["container without limits", "resources", (o) => { delete siloContainer(o).resources.limits; }],
  ["container may escalate privileges", "security", (o) => { gatewayContainer(o).securityContext.allowPrivilegeEscalation = true; }],
  ["gateway Deployment pins replicas under an HPA", "availability", (o) => { byKind(o, "Deployment", "gateway").spec.replicas = 3; }],
  ["admin key is the old dev placeholder", "Secrets", (o) => { setSecret(o, "invexqr-secrets", "Auth__ApiKey", "dev-admin-key-change-me"); }],
  ["admin key of 16 random characters", "Secrets", (o) => { setSecret(o, "invexqr-secrets", "Auth__ApiKey", "a8Fk29dLq0ZxP4mB"); }],
  ["admin key of one repeated character", "Secrets", (o) => { setSecret(o, "invexqr-secrets", "Auth__ApiKey", "a".repeat(40)); }],
  ["database password REPLACE-ME", "Secrets", (o) => { setSecret(o, "invexqr-secrets", "ConnectionStrings__Postgres", DEV_CS("REPLACE-ME")); }],
  ["PostgreSQL password of the old dev overlay", "Secrets", (o) => { setSecret(o, "postgres-credentials", "POSTGRES_PASSWORD", "invexqr-dev-password"); }],
  ["gateway trusts 10.0.0.0/8", "trusted proxies", (o) => { byKind(o, "ConfigMap", "invexqr-gateway").data.Network__TrustedNetworks__0 = "10.0.0.0/8"; }],
  ["gateway trusts 0.0.0.0/0", "trusted proxies", (o) => { byKind(o, "ConfigMap", "invexqr-gateway").data.Network__TrustedNetworks__0 = "0.0.0.0/0"; }],
  ["gateway trusts ::/0", "trusted proxies", (o) => { byKind(o, "ConfigMap", "invexqr-gateway").data.Network__TrustedNetworks__1 = "::/0"; }],
  ["trusted network with host bits set", "trusted proxies", (o) => { byKind(o, "ConfigMap", "invexqr-gateway").data.Network__TrustedNetworks__0 = "10.244.0.1/24"; }],
  ["Orleans in clear (Orleans__Tls__Disabled=true)", "cluster TLS", (o) => { siloContainer(o).env.push({ name: "Orleans__Tls__Disabled", value: "true" }); }],
  ["gateway without the cluster TLS volume", "cluster TLS", (o) => { const t = byKind(o, "Deployment", "gateway").spec.template.spec; const v = t.volumes.find((x) => x.secret?.secretName === "invexqr-cluster-tls"); v.secret.secretName = "invexqr-secrets"; }],
  ["silo's volume maps the gateway's key", "cluster TLS", (o) => { const t = byKind(o, "StatefulSet", "silo").spec.template.spec; t.volumes.find((x) => x.secret?.secretName === "invexqr-cluster-tls").secret.items.find((i) => i.key === "silo.key").key = "gateway.key"; }],
  ["cluster TLS Secret without the CA", "cluster TLS", (o) => { const s = byKind(o, "Secret", "invexqr-cluster-tls"); if (s.data) delete s.data["ca.crt"]; if (s.stringData) delete s.stringData["ca.crt"]; }],
  ["gateway trusts nothing behind the Ingress", "trusted proxies", (o) => { delete byKind(o, "ConfigMap", "invexqr-gateway").data.Network__TrustedNetworks__0; }],
];
// The prod overlay rendered with k8s/components/cert-manager-cluster-tls.
export const CERT_MANAGER = "prod+cert-manager-cluster-tls";
const certificate = (objs, name) => objs.find((o) => o.kind === "Certificate" && o.metadata.name === name);
const tlsVolume = (objs, kind, name) => byKind(objs, kind, name).spec.template.spec.volumes.find((v) => v.name === "cluster-tls");
const CERT_MANAGER_CASES = [
  ["silo mounts the gateway Certificate's Secret", "cluster TLS", (o) => { tlsVolume(o, "StatefulSet", "silo").secret.secretName = "invexqr-gateway-tls"; }],
  ["gateway mounts the silo Certificate's Secret (server auth)", "cluster TLS", (o) => { tlsVolume(o, "Deployment", "gateway").secret.secretName = "invexqr-silo-tls"; }],
  ["silo Certificate without client auth", "cluster TLS", (o) => { certificate(o, "invexqr-silo-tls").spec.usages = ["digital signature", "server auth"]; }],
  ["gateway Certificate with cert-manager's default usages (no extended key usage)", "cluster TLS", (o) => { delete certificate(o, "invexqr-gateway-tls").spec.usages; }],
  ["CaPath is the Secret's tls.crt", "cluster TLS", (o) => { tlsVolume(o, "StatefulSet", "silo").secret.items.find((i) => i.path === "ca.crt").key = "tls.crt"; }],
  ["silo certificate mounted with subPath (never renewed in the pod)", "cluster TLS", (o) => { const c = siloContainer(o); const m = c.volumeMounts.find((x) => x.name === "cluster-tls"); c.volumeMounts.push({ ...m, name: "cluster-tls", mountPath: "/etc/invexqr/tls/node.crt", subPath: "node.crt" }); m.mountPath = "/etc/invexqr/tls-rest"; c.env.find((e) => e.name === "Orleans__Tls__KeyPath").value = "/etc/invexqr/tls-rest/node.key"; c.env.find((e) => e.name === "Orleans__Tls__CaPath").value = "/etc/invexqr/tls-rest/ca.crt"; }],
  ["volume names a Secret no Certificate writes", "cluster TLS", (o) => { tlsVolume(o, "Deployment", "gateway").secret.secretName = "invexqr-gateway-tsl"; }],
  ["gateway keeps the static Secret, silos use cert-manager", "cluster TLS", (o) => { const v = tlsVolume(o, "Deployment", "gateway"); v.secret.secretName = "invexqr-cluster-tls"; v.secret.items = [{ key: "ca.crt", path: "ca.crt" }, { key: "gateway.crt", path: "node.crt" }, { key: "gateway.key", path: "node.key" }]; o.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "invexqr-cluster-tls", namespace: "invexqr" }, type: "Opaque", data: { "ca.crt": "eA==", "gateway.crt": "eA==", "gateway.key": "eA==" } }); }],
  ["silo and gateway Certificates from two CAs", "cluster TLS", (o) => {
    const ca = structuredClone(certificate(o, "invexqr-cluster-ca")); ca.metadata.name = ca.spec.secretName = "invexqr-other-ca"; o.push(ca);
    const issuer = structuredClone(byKind(o, "Issuer", "invexqr-cluster-ca")); issuer.metadata.name = issuer.spec.ca.secretName = "invexqr-other-ca"; o.push(issuer);
    certificate(o, "invexqr-gateway-tls").spec.issuerRef.name = "invexqr-other-ca";
  }],
  ["Certificate names a missing Issuer", "cert-manager:", (o) => { certificate(o, "invexqr-silo-tls").spec.issuerRef.name = "invexqr-cluster-ca-typo"; }],
  ["component rendered without the CA Certificate", "cert-manager:", (o) => { o.splice(o.indexOf(certificate(o, "invexqr-cluster-ca")), 1); }],
  ["CA Certificate gets a new key on renewal", "cert-manager:", (o) => { certificate(o, "invexqr-cluster-ca").spec.privateKey.rotationPolicy = "Always"; }],
  ["node certificates from the self-signed Issuer", "cert-manager:", (o) => { certificate(o, "invexqr-gateway-tls").spec.issuerRef.name = "invexqr-cluster-bootstrap"; certificate(o, "invexqr-silo-tls").spec.issuerRef.name = "invexqr-cluster-bootstrap"; }],
  ["Ed25519 node key", "cert-manager:", (o) => { const k = certificate(o, "invexqr-silo-tls").spec.privateKey; k.algorithm = "Ed25519"; delete k.size; }],
  ["renewBefore longer than duration", "cert-manager:", (o) => { certificate(o, "invexqr-gateway-tls").spec.renewBefore = "3000h"; }],
  ["two Certificates write one Secret", "cert-manager:", (o) => { certificate(o, "invexqr-gateway-tls").spec.secretName = "invexqr-silo-tls"; }],
  ["schema: usage spelt client-auth", "OpenAPI schema", (o) => { certificate(o, "invexqr-gateway-tls").spec.usages = ["digital signature", "client-auth"]; }],
  ["schema: misspelt field secretNme", "OpenAPI schema", (o) => { const c = certificate(o, "invexqr-silo-tls"); c.spec.secretNme = c.spec.secretName; }],
  ["schema: CA Issuer without secretName", "OpenAPI schema", (o) => { delete byKind(o, "Issuer", "invexqr-cluster-ca").spec.ca.secretName; }],
  ["ClusterIssuer with a namespace", "namespaced objects", (o) => { o.push({ apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", metadata: { name: "x", namespace: "invexqr" }, spec: { selfSigned: {} } }); }],
];
// Overlays rendered by validate-deploy.sh with fixtures/k8s-weak/<overlay>/*.env (the values the overlays shipped
// before issue 19): each [check, message] must be reported.
const WEAK_RENDER_EXPECT = {
  dev: [["Secrets", /Auth__ApiKey contains the placeholder marker "change-me"/], ["Secrets", /ConnectionStrings__Postgres: the password is 20 characters/], ["Secrets", /POSTGRES_PASSWORD is 20 characters/]],
  prod: [["Secrets", /Auth__ApiKey contains the placeholder marker "replace"/], ["Secrets", /ConnectionStrings__Postgres: the password contains the placeholder marker "replace"/], ["trusted proxies", /Network__TrustedNetworks__0=10\.0\.0\.0\/8 trusts \/8/]],
};
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
  ["admin key falls back to local-admin-key-change-me", "secrets", (c) => { c.services.gateway.environment.Auth__ApiKey = "${INVEXQR_API_KEY:-local-admin-key-change-me}"; }],
  ["PostgreSQL password falls back to invexqr-local", "secrets", (c) => { c.services.postgres.environment.POSTGRES_PASSWORD = "${POSTGRES_PASSWORD:-invexqr-local}"; }],
  ["admin key empty when the variable is unset", "secrets", (c) => { c.services.silo1.environment.Auth__ApiKey = "${INVEXQR_API_KEY}"; }],
  ["literal admin key committed in the file", "secrets", (c) => { c.services.silo2.environment.Auth__ApiKey = "3f9c0d5e8a7b6c5d4e3f2a1b0c9d8e7f"; }],
  ["connection string with a literal password", "secrets", (c) => { c.services.gateway.environment.ConnectionStrings__Postgres = "Host=postgres;Port=5432;Database=invexqr;Username=invexqr;Password=invexqr-local"; }],
  ["a setting defaults to a change-me placeholder", "secrets", (c) => { c.services.gateway.environment.Gateway__PublicBaseUrl = "${INVEXQR_PUBLIC_BASE_URL:-https://change-me.invalid}"; }],
  ["gateway published on every interface", "ports", (c) => { c.services.gateway.ports = ["8080:8080"]; }],
  ["gateway trusts the whole Docker network", "trusted proxies", (c) => { c.services.gateway.environment.Network__TrustedNetworks__0 = "172.28.0.0/24"; }],
  ["gateway trusts 0.0.0.0/0", "trusted proxies", (c) => { c.services.gateway.environment.Network__TrustedNetworks__0 = "0.0.0.0/0"; }],
  ["gateway trusts a silo as its proxy", "trusted proxies", (c) => { c.services.gateway.environment.Network__TrustedProxies__0 = "172.28.0.11"; }],
];

// Dockerfile fixtures (scripts/validate-deploy/fixtures), checked against the real repository's projects.
const FIXTURES = "scripts/validate-deploy/fixtures";
const DOCKER_CASES = [
  // Names a referenced .csproj the fixture never mentions: true of src/Silo today and of any project a re-cut adds.
  ["gateway Dockerfile that lists projects by hand and misses a referenced one", { file: `${FIXTURES}/gateway-missing-project.Dockerfile`, context: "." },
    (e, text) => { const m = e.match(/project (\S+\.csproj) \(referenced by [^)]*\) is missing from the stage/); return m && !text.includes(m[1]); }],
  // The real gateway Dockerfile, with a .dockerignore that leaves src/Grains out of the context.
  ["context whose .dockerignore leaves out a referenced project", { file: "src/Gateway/Dockerfile", context: ".", ignoreFile: `${FIXTURES}/excludes-a-project.dockerignore` },
    (e) => /project src\/Grains\/\S+\.csproj .*left out of the context by .*excludes-a-project\.dockerignore rule 'src\/Grains'/.test(e)],
];
const DOCKERIGNORE_CASES = [
  ["an .env file reaches the build context", ".dockerignore", (t) => { t.push("!.env"); }],
  ["local build output reaches the build context", ".dockerignore", (t) => { t.splice(t.indexOf("**/bin"), 1); }],
  ["the tests reach the build context", ".dockerignore", (t) => { t.push("!tests"); }],
  ["the MSBuild props are left out", ".dockerignore", (t) => { t.push("Directory.*.props"); }],
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
  if (opts.overlays[CERT_MANAGER]) {
    await run(`k8s ${CERT_MANAGER}`, CERT_MANAGER_CASES, loadRendered(opts.overlays[CERT_MANAGER]), (o) => checkManifests(o, "prod", { label: CERT_MANAGER }));
  } else if (opts.skipped.includes(CERT_MANAGER)) console.log(`  SKIP [self-test] k8s ${CERT_MANAGER}: not rendered (kustomize without components)`);
  else { failures++; console.log(`  FAIL [self-test] k8s ${CERT_MANAGER}: not rendered (--overlay ${CERT_MANAGER}=<file>)`); }
  for (const [overlay, expect] of Object.entries(WEAK_RENDER_EXPECT)) {
    if (!opts.weak[overlay]) { failures++; console.log(`  FAIL [self-test] k8s ${overlay} weak fixture: not rendered (--weak-overlay ${overlay}=<file>)`); continue; }
    const r = await checkManifests(loadRendered(opts.weak[overlay]), overlay);
    for (const [check, re] of expect) {
      const hit = r.failed.filter((f) => f.name.includes(check)).flatMap((f) => f.errors).find((e) => re.test(e));
      if (hit) console.log(`  ok   [self-test] k8s ${overlay} weak fixture: rejected -> ${hit}`);
      else { failures++; console.log(`  FAIL [self-test] k8s ${overlay} weak fixture: no "${check}" error matching ${re}`); }
    }
  }
  await run("compose", COMPOSE_CASES, parseCompose(composeText), (c) => checkCompose(c, opts.root));

  const ignoreLines = fs.readFileSync(path.join(opts.root, ".dockerignore"), "utf8").split("\n");
  await run("dockerignore", DOCKERIGNORE_CASES, ignoreLines, (lines) => checkDockerignore(lines.join("\n")));

  const real = dockerfilesToCheck(opts.root, parseCompose(composeText));
  baselines++;
  const base = checkBuildInputs(opts.root, real);
  if (!base.failed.length) console.log(`  ok   [self-test] docker: the real Dockerfiles pass (${real.map((d) => d.file).join(", ")})`);
  else { failures++; console.log(`  FAIL [self-test] docker: the real Dockerfiles already fail (${base.failed.map((f) => f.name).join("; ")})`); }
  for (const [name, df, expected] of DOCKER_CASES) {
    const text = fs.readFileSync(path.join(opts.root, df.file), "utf8");
    const errors = checkBuildInputs(opts.root, [df]).failed.flatMap((f) => f.errors);
    const hit = errors.find((e) => expected(e, text));
    if (hit) console.log(`  ok   [self-test] docker: rejected "${name}" -> ${hit}`);
    else { failures++; console.log(`  FAIL [self-test] docker: "${name}" was NOT rejected as expected${errors.length ? ` (errors: ${errors.join("; ")})` : ""}`); }
  }
  const total = K8S_CASES.length + (opts.overlays[CERT_MANAGER] ? CERT_MANAGER_CASES.length : 0) + PROD_CASES.length + Object.values(WEAK_RENDER_EXPECT).flat().length + COMPOSE_CASES.length + DOCKERIGNORE_CASES.length + DOCKER_CASES.length;
  console.log(`\n${total + baselines - failures} passed, ${failures} failed`);
  if (failures) console.error(`validate-deploy --self-test: ${failures} broken input(s) slipped through or a baseline failed`);
  return failures ? 1 : 0;
}

const opts = parseArgs(process.argv.slice(2));
process.exit(opts.selfTest ? await selfTest(opts) : await validateAll(opts));
