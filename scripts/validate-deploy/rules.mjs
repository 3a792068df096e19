// InvexQR's deployment facts and invariants. The facts (ports, env names, routes, health paths) are the
// application's contract as documented for operators (docs/operations.md); keep them in step with the code.
import { validateSchema, unknownFields } from "./schema.mjs";
import { CONNECTION_NAME, MIN_PREFIX, MIN_SECRET_LENGTH, PLACEHOLDER_MARKERS, SECRET_NAME, isTrustSetting, placeholderIn, trustErrors, weakSecretReason } from "./trust.mjs";

// ---- facts ----------------------------------------------------------------------------------------------
export const PORTS = { gatewayHttp: 8080, siloHttp: 8081, siloPort: 11111, gatewayPort: 30000 };
export const HEALTH_PATHS = ["/health/live", "/health/ready"];
/** The only routes the Ingress may expose, with their pathType. */
export const PUBLIC_ROUTES = [
  { path: "/r/", pathType: "Prefix" },
  { path: "/api/", pathType: "Prefix" },
  { path: "/", pathType: "Exact" },
  { path: "/app/", pathType: "Prefix" },
  { path: "/openapi/", pathType: "Prefix" },
  { path: "/docs", pathType: "Prefix" },
];
export const NEVER_PUBLIC = ["/metrics", "/health", "/orleans"];

const COMMON_ENV = [
  "ASPNETCORE_URLS", "ConnectionStrings__Postgres", "DATABASE_URL",
  "Orleans__ClusterId", "Orleans__ServiceId", "Logging__Console__FormatterName",
];
/** Environment variables each process reads. Patterns are anchored regular expressions. */
export const KNOWN_ENV = {
  silo: [
    ...COMMON_ENV,
    "Orleans__SiloPort", "Orleans__GatewayPort", "Orleans__AdvertisedIP", "Orleans__SiloName",
    "Database__MigrateOnStartup", "ShutdownTimeoutSeconds",
    "ScanSink__BatchSize", "ScanSink__FlushIntervalMs",
    "Privacy__IpMode", "Privacy__RetentionDays", "Privacy__HonorDoNotTrack", "ScanSink__QueueCapacity", "ScanSink__Durability",
    "ScanSink__SpoolDirectory", "ScanSink__SpoolCapacityBytes",
    "Throttle__Burst", "Throttle__PerMinute", "Throttle__MaxTrackedClients", "Throttle__RepeatWindow",
    // The Orleans dashboard (/orleans) is served by the silo and needs the admin key.
    "Auth__ApiKey", "Dashboard__Enabled",
    /^Orleans__Tls__(CertificatePath|KeyPath|CaPath|CertificatePassword|Disabled)$/, "Orleans__ListenOnAnyAddress",
  ],
  gateway: [
    ...COMMON_ENV,
    "Auth__ApiKey", "Gateway__PublicBaseUrl", /^Network__TrustedNetworks__\d+$/, /^Network__TrustedProxies__\d+$/,
    "Orleans__ResponseTimeoutSeconds", "Gateway__RandomCodeLength", "Gateway__CoHostSilo",
    "Geo__DatabasePath", "UserAgents__RegexesPath", "Docs__SwaggerUiPath",
    /^Network__UnknownCodes__(Burst|PerMinute)$/, "Geo__CacheSize", "UserAgents__CacheSize",
    /^Orleans__Tls__(CertificatePath|KeyPath|CaPath|CertificatePassword|Disabled)$/,
    // Issue 19: sessions, operator endpoints, proxy headers, HSTS, failed-key throttling, owner limits.
    "Auth__SessionSecret", "Auth__SessionLifetimeHours", "Auth__FailedAttemptsPerMinute", /^Network__OperatorNetworks__\d+$/,
    "Network__ForwardedHeaders", "Gateway__HstsMaxAgeDays", /^Owners__(MaxCodes|MaxThrottleBurst|MaxThrottlePerMinute)$/,
  ],
};
/** Downward-API helpers: never read by the apps, only expanded into Orleans__SiloName / Orleans__AdvertisedIP. */
export const HELPER_ENV = ["POD_NAME", "POD_IP", "POD_NAMESPACE"];
const INT_ENV = [
  "Orleans__SiloPort", "Orleans__GatewayPort", "ShutdownTimeoutSeconds", "ScanSink__BatchSize", "ScanSink__FlushIntervalMs",
  "Privacy__RetentionDays", "Throttle__Burst", "Throttle__PerMinute", "Orleans__ResponseTimeoutSeconds",
];
const ENUM_ENV = { ScanSink__Durability: ["Buffered", "Committed"], Privacy__IpMode: ["truncate", "hash", "none", "drop"], Database__MigrateOnStartup: ["true", "false"] };
export const DEFAULT_SHUTDOWN_TIMEOUT = 30;
/** ScanSink:SpoolCapacityBytes' default, and ScanSink:SpoolDirectory as the images set it (src/Silo/Dockerfile). */
export const DEFAULT_SPOOL_CAPACITY = 1073741824;
export const IMAGE_SPOOL_DIRECTORY = "/var/lib/invexqr/spool";
const RBAC_KINDS = ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"];
const CLUSTER_SCOPED = ["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "IngressClass", "ClusterIssuer"];

export function isKnownEnv(role, name) {
  return KNOWN_ENV[role].some((k) => (typeof k === "string" ? k === name : k.test(name)));
}

/** Which InvexQR process an image runs: "silo", "gateway" or null (a third-party image). */
export function roleOfImage(image) {
  if (typeof image !== "string") return null;
  const repo = image.replace(/[:@].*$/, "");
  if (/(^|\/)invexqr[/-]silo$/.test(repo)) return "silo";
  if (/(^|\/)invexqr[/-]gateway$/.test(repo)) return "gateway";
  return null;
}

/** Port from an ASPNETCORE_URLS value (first URL), or null. */
export function portOfUrls(urls) {
  const m = String(urls ?? "").split(";")[0].match(/^https?:\/\/[^/:]+:(\d+)/);
  return m ? Number(m[1]) : null;
}

/** Npgsql keyword connection string or postgresql:// URL -> {host, port, database, username, password}. */
export function parseConnectionString(s) {
  if (typeof s !== "string") return null;
  if (/^postgres(ql)?:\/\//.test(s)) {
    try {
      const u = new URL(s);
      return { host: u.hostname, port: u.port || "5432", database: u.pathname.replace(/^\//, ""), username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
    } catch { return null; }
  }
  const kv = {};
  for (const part of s.split(";")) {
    const i = part.indexOf("=");
    if (i > 0) kv[part.slice(0, i).trim().toLowerCase().replace(/\s+/g, " ")] = part.slice(i + 1).trim();
  }
  const pick = (...names) => names.map((n) => kv[n]).find((v) => v !== undefined);
  const host = pick("host", "server");
  if (!host) return null;
  return { host, port: pick("port") ?? "5432", database: pick("database", "db"), username: pick("username", "user id", "userid", "user"), password: pick("password", "pwd") };
}

function parseQuantity(q) {
  const m = String(q).match(/^([0-9.]+)([a-zA-Z]*)$/);
  if (!m) return NaN;
  const units = { "": 1, m: 1e-3, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return m[2] in units ? Number(m[1]) * units[m[2]] : NaN;
}

// ---- a tiny check runner --------------------------------------------------------------------------------
export class Report {
  constructor(label) { this.label = label; this.results = []; }
  check(name, fn) {
    const errors = [];
    const warnings = [];
    try { fn((msg) => errors.push(msg), (msg) => warnings.push(msg)); } catch (e) { errors.push(`check crashed: ${e.stack || e}`); }
    this.results.push({ name, errors, warnings });
  }
  async checkAsync(name, fn) {
    const errors = [];
    try { await fn((msg) => errors.push(msg)); } catch (e) { errors.push(`check crashed: ${e.stack || e}`); }
    this.results.push({ name, errors, warnings: [] });
  }
  get failed() { return this.results.filter((r) => r.errors.length); }
  print(log = console.log) {
    for (const r of this.results) {
      log(`  ${r.errors.length ? "FAIL" : "ok  "} [${this.label}] ${r.name}`);
      for (const e of r.errors) log(`         - ${e}`);
      for (const w of r.warnings) log(`         (warning) ${w}`);
    }
  }
}

// ---- helpers over rendered objects ------------------------------------------------------------------------
const id = (o) => `${o.kind}/${o.metadata?.name}`;

function podTemplates(objects) {
  const out = [];
  for (const o of objects) {
    if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"].includes(o.kind)) out.push({ owner: o, template: o.spec?.template });
    else if (o.kind === "Job") out.push({ owner: o, template: o.spec?.template });
    else if (o.kind === "CronJob") out.push({ owner: o, template: o.spec?.jobTemplate?.spec?.template });
  }
  return out.filter((p) => p.template);
}

/** matchLabels/matchExpressions (or a plain map for Services) against a label map. */
export function selects(selector, labels = {}) {
  if (!selector) return false;
  const isLabelSelector = "matchLabels" in selector || "matchExpressions" in selector;
  const matchLabels = isLabelSelector ? selector.matchLabels ?? {} : selector;
  for (const [k, v] of Object.entries(matchLabels)) if (labels[k] !== v) return false;
  for (const e of (isLabelSelector ? selector.matchExpressions : null) ?? []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function isEmptySelector(sel) {
  return sel && Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

function find(objects, kind, name) { return objects.find((o) => o.kind === kind && o.metadata?.name === name); }

function secretKeys(secret) { return new Set([...Object.keys(secret?.data ?? {}), ...Object.keys(secret?.stringData ?? {})]); }
function secretValue(secret, key) {
  if (secret?.stringData && key in secret.stringData) return secret.stringData[key];
  if (secret?.data && key in secret.data) return Buffer.from(secret.data[key], "base64").toString("utf8");
  return undefined;
}

/**
 * The environment a container sees: Map name -> {value, from}. value is a string, or
 * `<fieldRef:path>` for downward-API values. Reference errors go to err.
 */
export function containerEnv(objects, container, where, err = () => {}) {
  const env = new Map();
  for (const ef of container.envFrom ?? []) {
    const prefix = ef.prefix ?? "";
    if (ef.configMapRef) {
      const cm = find(objects, "ConfigMap", ef.configMapRef.name);
      if (!cm) { if (!ef.configMapRef.optional) err(`${where}: envFrom ConfigMap "${ef.configMapRef.name}" does not exist`); continue; }
      for (const [k, v] of Object.entries(cm.data ?? {})) env.set(prefix + k, { value: String(v), from: `ConfigMap/${cm.metadata.name}` });
    }
    if (ef.secretRef) {
      const s = find(objects, "Secret", ef.secretRef.name);
      if (!s) { if (!ef.secretRef.optional) err(`${where}: envFrom Secret "${ef.secretRef.name}" does not exist`); continue; }
      for (const k of secretKeys(s)) env.set(prefix + k, { value: secretValue(s, k), from: `Secret/${s.metadata.name}` });
    }
  }
  for (const e of container.env ?? []) {
    let value;
    if ("value" in e) {
      value = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, ref) => {
        if (!env.has(ref)) { err(`${where}: env ${e.name} uses $(${ref}), which is not defined before it`); return m; }
        return env.get(ref).value;
      });
    } else if (e.valueFrom?.fieldRef) value = `<fieldRef:${e.valueFrom.fieldRef.fieldPath}>`;
    else if (e.valueFrom?.secretKeyRef) {
      const r = e.valueFrom.secretKeyRef;
      const s = find(objects, "Secret", r.name);
      if (!s) { if (!r.optional) err(`${where}: env ${e.name} references Secret "${r.name}", which does not exist`); }
      else if (!secretKeys(s).has(r.key)) err(`${where}: env ${e.name} references key "${r.key}" missing from Secret "${r.name}"`);
      value = secretValue(s, r.key);
    } else if (e.valueFrom?.configMapKeyRef) {
      const r = e.valueFrom.configMapKeyRef;
      const cm = find(objects, "ConfigMap", r.name);
      if (!cm) { if (!r.optional) err(`${where}: env ${e.name} references ConfigMap "${r.name}", which does not exist`); }
      else if (!(r.key in (cm.data ?? {}))) err(`${where}: env ${e.name} references key "${r.key}" missing from ConfigMap "${r.name}"`);
      value = cm?.data?.[r.key];
    } else value = `<${Object.keys(e.valueFrom ?? {})[0] ?? "unset"}>`;
    env.set(e.name, { value, from: "env" });
  }
  return env;
}

function appContainers(objects) {
  const out = [];
  for (const { owner, template } of podTemplates(objects)) {
    for (const c of [...(template.spec?.initContainers ?? []), ...(template.spec?.containers ?? [])]) {
      out.push({ owner, template, container: c, role: roleOfImage(c.image), where: `${id(owner)} container ${c.name}` });
    }
  }
  return out;
}

function resolvePort(container, port) {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(String(port))) return Number(port);
  return (container.ports ?? []).find((p) => p.name === port)?.containerPort ?? null;
}

function argv(container) { return [...(container.command ?? []), ...(container.args ?? [])]; }

// ---- NetworkPolicy evaluation (ingress only) ----------------------------------------------------------------
/**
 * Whether a connection from `source` to pod `dst` (labels) on TCP `port` is allowed by the policies.
 * source: {kind: "pod", labels, namespaceLabels, inNamespace} | {kind: "external"}.
 */
export function ingressAllowed(objects, dstLabels, dstContainerPorts, port, source) {
  const policies = objects.filter((o) => o.kind === "NetworkPolicy" && selects(o.spec?.podSelector ?? {}, dstLabels)
    && (o.spec?.policyTypes ?? ["Ingress"]).includes("Ingress"));
  if (policies.length === 0) return true; // not isolated
  for (const p of policies) {
    for (const rule of p.spec?.ingress ?? []) {
      const portOk = !rule.ports?.length || rule.ports.some((rp) => {
        const n = typeof rp.port === "string" ? dstContainerPorts[rp.port] : rp.port;
        if (rp.port === undefined) return (rp.protocol ?? "TCP") === "TCP";
        return (rp.protocol ?? "TCP") === "TCP" && (rp.endPort ? port >= n && port <= rp.endPort : port === n);
      });
      if (!portOk) continue;
      const peers = rule.from;
      if (!peers?.length) return true;
      for (const peer of peers) {
        if (peer.ipBlock) { if (source.kind === "external" || source.kind === "pod") return true; continue; }
        if (source.kind !== "pod") continue;
        const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, source.namespaceLabels) : source.inNamespace;
        const podOk = peer.podSelector ? selects(peer.podSelector, source.labels) : true;
        if (nsOk && podOk) return true;
      }
    }
  }
  return false;
}

// ---- cluster TLS and cert-manager ------------------------------------------------------------------------------
const TLS_ENV = ["Orleans__Tls__CertificatePath", "Orleans__Tls__KeyPath", "Orleans__Tls__CaPath"];
export const STATIC_TLS_SECRET = "invexqr-cluster-tls";
const CERT_MANAGER_GROUP = "cert-manager.io";
/** ClusterTransportLog warns at start when the node certificate expires within 30 days. */
const APP_EXPIRY_WARNING_HOURS = 720;
const isCertManager = (o) => String(o?.apiVersion ?? "").startsWith(`${CERT_MANAGER_GROUP}/`);

/** The cert-manager Certificate of the render that writes Secret secretName, if any. */
function certificateFor(objects, secretName) {
  return objects.find((o) => o.kind === "Certificate" && isCertManager(o) && o.spec?.secretName === secretName);
}

function issuerOf(objects, cert) {
  const ref = cert.spec?.issuerRef ?? {};
  if ((ref.group ?? CERT_MANAGER_GROUP) !== CERT_MANAGER_GROUP) return null;
  return objects.find((o) => isCertManager(o) && o.kind === (ref.kind ?? "Issuer") && o.metadata?.name === ref.name) ?? null;
}

/** A Certificate's usages; cert-manager's default has no extended key usage (which the app reads as any usage). */
function usagesOf(cert) { return new Set(cert.spec?.usages ?? ["digital signature", "key encipherment"]); }

/** Go duration ("2160h", "90m", "1h30m") in seconds, NaN if it does not parse. */
function goDuration(text) {
  const s = String(text);
  if (!/^(\d+(\.\d+)?(h|m|s|ms))+$/.test(s)) return NaN;
  return [...s.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)].reduce((t, [, n, u]) => t + Number(n) * { h: 3600, m: 60, s: 1, ms: 1e-3 }[u], 0);
}

/** Which Secret key a file path in the container is: {mount, volume, secretName, key, subPath}, or null. */
function secretFile(template, container, file) {
  const mounts = [...(container.volumeMounts ?? [])].sort((x, y) => y.mountPath.length - x.mountPath.length);
  for (const m of mounts) {
    const dir = m.mountPath.replace(/\/$/, "");
    const volume = (template.spec?.volumes ?? []).find((v) => v.name === m.name);
    const items = volume?.secret?.items;
    const keyAt = (rel) => (items ? items.find((i) => i.path === rel)?.key ?? null : rel);
    if (m.subPath && file === dir) return { mount: m, volume, secretName: volume?.secret?.secretName, key: keyAt(m.subPath), subPath: true };
    if (!m.subPath && file.startsWith(dir + "/")) return { mount: m, volume, secretName: volume?.secret?.secretName, key: keyAt(file.slice(dir.length + 1)) };
  }
  return null;
}

// ---- the Kubernetes invariants ----------------------------------------------------------------------------
/**
 * Checks one rendered overlay. overlay: "dev" | "prod" (the database rule differs).
 * Returns a Report.
 */
export async function checkManifests(objects, overlay, { namespace = "invexqr", label = overlay } = {}) {
  const r = new Report(label);
  const templates = podTemplates(objects);
  const apps = appContainers(objects);
  const byRole = (role) => apps.filter((a) => a.role === role && a.owner.kind !== "Job");
  const silos = byRole("silo");
  const gateways = byRole("gateway");

  await r.checkAsync("every object validates against the Kubernetes OpenAPI schema (kubernetes-models; cert-manager kinds: @kubernetes-models/cert-manager), no unknown kinds or fields", async (err) => {
    if (!objects.length) err("nothing rendered");
    for (const o of objects) {
      for (const e of await validateSchema(o)) err(`${id(o)}: ${e}`);
      for (const e of unknownFields(o)) err(`${id(o)}: ${e}`);
      if (!o.metadata?.name) err(`${o.kind}: no metadata.name`);
    }
    const seen = new Set();
    for (const o of objects) {
      const key = `${o.apiVersion}/${id(o)}`;
      if (seen.has(key)) err(`duplicate object ${key}`);
      seen.add(key);
    }
  });

  r.check(`namespaced objects live in namespace ${namespace}, which the overlay creates`, (err) => {
    if (!find(objects, "Namespace", namespace)) err(`no Namespace ${namespace}`);
    for (const o of objects) {
      if (CLUSTER_SCOPED.includes(o.kind)) { if (o.metadata?.namespace) err(`${id(o)} is cluster-scoped but has a namespace`); continue; }
      if (o.metadata?.namespace !== namespace) err(`${id(o)} is in namespace "${o.metadata?.namespace ?? "(none)"}"`);
    }
  });

  r.check("no RBAC objects; pods mount no service-account token (ADO.NET clustering needs no Kubernetes API)", (err) => {
    for (const o of objects) if (RBAC_KINDS.includes(o.kind) || o.apiVersion?.startsWith("rbac.authorization.k8s.io/")) err(`${id(o)} must not exist`);
    for (const { owner, template } of templates) {
      if (template.spec?.automountServiceAccountToken !== false) err(`${id(owner)}: set automountServiceAccountToken: false`);
      if (template.spec?.serviceAccountName && template.spec.serviceAccountName !== "default") err(`${id(owner)}: uses service account ${template.spec.serviceAccountName}`);
    }
  });

  r.check("selectors: workloads select their own pod template; Services, PDBs, NetworkPolicies, spread constraints select existing pods; HPA targets exist", (err) => {
    const labelsOf = templates.map((t) => ({ owner: t.owner, labels: t.template.metadata?.labels ?? {} }));
    const matchesSome = (sel) => labelsOf.some((t) => selects(sel, t.labels));
    for (const { owner, template } of templates) {
      if (owner.kind === "Job") continue;
      if (!owner.spec?.selector || isEmptySelector(owner.spec.selector)) err(`${id(owner)}: empty selector`);
      else if (!selects(owner.spec.selector, template.metadata?.labels)) err(`${id(owner)}: selector ${JSON.stringify(owner.spec.selector)} does not match its pod template labels ${JSON.stringify(template.metadata?.labels ?? {})}`);
      for (const tsc of template.spec?.topologySpreadConstraints ?? []) {
        if (!selects(tsc.labelSelector, template.metadata?.labels)) err(`${id(owner)}: topologySpreadConstraint selector does not match its own pods`);
      }
    }
    for (const o of objects) {
      if (o.kind === "Service") {
        if (!o.spec?.selector || !Object.keys(o.spec.selector).length) err(`${id(o)}: no selector`);
        else if (!matchesSome(o.spec.selector)) err(`${id(o)}: selector ${JSON.stringify(o.spec.selector)} matches no pod template`);
      }
      if (o.kind === "PodDisruptionBudget") {
        if (!o.spec?.selector || isEmptySelector(o.spec.selector)) err(`${id(o)}: empty selector`);
        else if (!matchesSome(o.spec.selector)) err(`${id(o)}: selector ${JSON.stringify(o.spec.selector)} matches no pod template`);
      }
      if (o.kind === "NetworkPolicy") {
        const ps = o.spec?.podSelector ?? {};
        if (!isEmptySelector(ps) && !matchesSome(ps)) err(`${id(o)}: podSelector ${JSON.stringify(ps)} matches no pod template`);
        for (const rule of [...(o.spec?.ingress ?? []), ...(o.spec?.egress ?? [])]) {
          for (const peer of [...(rule.from ?? []), ...(rule.to ?? [])]) {
            if (peer.podSelector && !peer.namespaceSelector && !isEmptySelector(peer.podSelector) && !matchesSome(peer.podSelector)) {
              err(`${id(o)}: peer podSelector ${JSON.stringify(peer.podSelector)} matches no pod template`);
            }
          }
        }
      }
      if (o.kind === "HorizontalPodAutoscaler") {
        const t = o.spec?.scaleTargetRef ?? {};
        const target = objects.find((x) => x.kind === t.kind && x.metadata?.name === t.name && x.apiVersion === t.apiVersion);
        if (!target) err(`${id(o)}: scaleTargetRef ${t.apiVersion}/${t.kind}/${t.name} does not exist`);
      }
    }
  });

  r.check(`ports: HTTP port = ASPNETCORE_URLS (gateway ${PORTS.gatewayHttp}, silo ${PORTS.siloHttp}); silo ${PORTS.siloPort}/${PORTS.gatewayPort} = Orleans__SiloPort/GatewayPort; Services and Ingress resolve to container ports`, (err) => {
    for (const a of apps) {
      if (!a.role || a.owner.kind === "Job") continue;
      const env = containerEnv(objects, a.container, a.where);
      const val = (n) => env.get(n)?.value;
      const ports = a.container.ports ?? [];
      const named = (n) => ports.find((p) => p.name === n)?.containerPort;
      const httpPort = portOfUrls(val("ASPNETCORE_URLS"));
      const expectedHttp = a.role === "silo" ? PORTS.siloHttp : PORTS.gatewayHttp;
      if (httpPort !== expectedHttp) err(`${a.where}: ASPNETCORE_URLS=${val("ASPNETCORE_URLS")} should listen on ${expectedHttp}`);
      if (named("http") !== httpPort) err(`${a.where}: containerPort "http" (${named("http")}) differs from ASPNETCORE_URLS port ${httpPort}`);
      if (a.role === "silo") {
        const sp = Number(val("Orleans__SiloPort") ?? PORTS.siloPort);
        const gp = Number(val("Orleans__GatewayPort") ?? PORTS.gatewayPort);
        if (sp !== PORTS.siloPort) err(`${a.where}: Orleans__SiloPort ${sp} != ${PORTS.siloPort}`);
        if (gp !== PORTS.gatewayPort) err(`${a.where}: Orleans__GatewayPort ${gp} != ${PORTS.gatewayPort}`);
        if (named("orleans-silo") !== sp) err(`${a.where}: containerPort "orleans-silo" (${named("orleans-silo")}) != Orleans__SiloPort ${sp}`);
        if (named("orleans-gateway") !== gp) err(`${a.where}: containerPort "orleans-gateway" (${named("orleans-gateway")}) != Orleans__GatewayPort ${gp}`);
        const allowed = new Set([httpPort, sp, gp]);
        for (const p of ports) if (!allowed.has(p.containerPort)) err(`${a.where}: containerPort ${p.containerPort} is not served by the silo`);
      } else {
        for (const p of ports) if (p.containerPort !== httpPort) err(`${a.where}: containerPort ${p.containerPort} is not served by the gateway`);
      }
    }
    for (const s of objects.filter((o) => o.kind === "Service")) {
      const pods = templates.filter((t) => selects(s.spec?.selector ?? {}, t.template.metadata?.labels ?? {}) && Object.keys(s.spec?.selector ?? {}).length);
      for (const sp of s.spec?.ports ?? []) {
        const target = sp.targetPort ?? sp.port;
        for (const t of pods) {
          const ok = (t.template.spec?.containers ?? []).some((c) => resolvePort(c, target) !== null && (c.ports ?? []).some((p) => p.containerPort === resolvePort(c, target)));
          if (!ok) err(`${id(s)} port ${sp.name ?? sp.port}: targetPort ${target} is not a container port of ${id(t.owner)}`);
        }
      }
    }
    for (const ing of objects.filter((o) => o.kind === "Ingress")) {
      for (const rule of ing.spec?.rules ?? []) for (const p of rule.http?.paths ?? []) {
        const svc = find(objects, "Service", p.backend?.service?.name);
        if (!svc) { err(`${id(ing)} ${p.path}: backend Service "${p.backend?.service?.name}" does not exist`); continue; }
        const bp = p.backend.service.port ?? {};
        if (!(svc.spec?.ports ?? []).some((sp) => (bp.name !== undefined ? sp.name === bp.name : sp.port === bp.number))) err(`${id(ing)} ${p.path}: Service ${svc.metadata.name} has no port ${bp.name ?? bp.number}`);
      }
    }
  });

  r.check(`probes: startup, readiness, liveness on every silo/gateway container, httpGet on ${HEALTH_PATHS.join(" or ")} at the container's HTTP port`, (err) => {
    for (const a of [...silos, ...gateways]) {
      const env = containerEnv(objects, a.container, a.where);
      const httpPort = portOfUrls(env.get("ASPNETCORE_URLS")?.value);
      for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const probe = a.container[kind];
        if (!probe) { err(`${a.where}: no ${kind}`); continue; }
        // A gateway answers /health/ready to direct callers from loopback (or Network__OperatorNetworks) only, so its
        // readiness probe asks from inside the pod.
        if (kind === "readinessProbe" && gateways.includes(a) && probe.exec) {
          const command = (probe.exec.command ?? []).join(" ");
          if (!command.includes("GET /health/ready ") || !command.includes(`/dev/tcp/127.0.0.1/${httpPort} `)) {
            err(`${a.where}: readinessProbe exec must GET /health/ready from 127.0.0.1:${httpPort}`);
          }
          continue;
        }
        if (!probe.httpGet) { err(`${a.where}: ${kind} is not an httpGet probe`); continue; }
        if (!HEALTH_PATHS.includes(probe.httpGet.path)) err(`${a.where}: ${kind} path "${probe.httpGet.path}" is not one of ${HEALTH_PATHS.join(", ")}`);
        if (kind === "readinessProbe" && probe.httpGet.path !== "/health/ready") err(`${a.where}: readinessProbe should use /health/ready`);
        if (kind === "livenessProbe" && probe.httpGet.path !== "/health/live") err(`${a.where}: livenessProbe should use /health/live (ready also checks PostgreSQL; a database outage must not restart every pod)`);
        const port = resolvePort(a.container, probe.httpGet.port);
        if (port !== httpPort) err(`${a.where}: ${kind} port ${probe.httpGet.port} (${port}) is not the HTTP port ${httpPort}`);
        if ((probe.httpGet.scheme ?? "HTTP") !== "HTTP") err(`${a.where}: ${kind} scheme must be HTTP`);
      }
    }
    for (const a of apps) {
      for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const hg = a.container[kind]?.httpGet;
        if (a.role && hg && !HEALTH_PATHS.includes(hg.path)) err(`${a.where}: ${kind} path "${hg.path}" is not a health endpoint`);
      }
    }
    if (!silos.length) err("no silo workload (image invexqr/silo) found");
    if (!gateways.length) err("no gateway workload (image invexqr/gateway) found");
  });

  r.check("silo terminationGracePeriodSeconds > ShutdownTimeoutSeconds", (err) => {
    for (const a of silos) {
      const env = containerEnv(objects, a.container, a.where);
      const timeout = Number(env.get("ShutdownTimeoutSeconds")?.value ?? DEFAULT_SHUTDOWN_TIMEOUT);
      const grace = a.template.spec?.terminationGracePeriodSeconds ?? 30;
      if (!(grace > timeout)) err(`${a.where}: terminationGracePeriodSeconds ${grace} must be larger than ShutdownTimeoutSeconds ${timeout}`);
    }
  });

  r.check("spool: each silo's ScanSink__SpoolDirectory is on a persistent volume of its own (a StatefulSet volumeClaimTemplate, kept on scale-in and delete) at least ScanSink__SpoolCapacityBytes large", (err) => {
    for (const a of silos) {
      const env = containerEnv(objects, a.container, a.where);
      const capacity = Number(env.get("ScanSink__SpoolCapacityBytes")?.value ?? DEFAULT_SPOOL_CAPACITY);
      if (capacity === 0) continue; // spool off: nothing on disk to keep
      const dir = env.get("ScanSink__SpoolDirectory")?.value ?? IMAGE_SPOOL_DIRECTORY;
      const mount = (a.container.volumeMounts ?? [])
        .filter((m) => dir === m.mountPath || dir.startsWith(m.mountPath.replace(/\/$/, "") + "/"))
        .sort((x, y) => y.mountPath.length - x.mountPath.length)[0];
      if (!mount) { err(`${a.where}: spool ${dir} is on the container's own filesystem (no volume mounted there): lost with the container`); continue; }
      const claim = (a.owner.spec?.volumeClaimTemplates ?? []).find((v) => v.metadata?.name === mount.name);
      const volume = (a.template.spec?.volumes ?? []).find((v) => v.name === mount.name);
      if (!claim) {
        if (volume?.persistentVolumeClaim && (a.owner.spec?.replicas ?? 1) > 1) err(`${a.where}: spool ${dir} on PersistentVolumeClaim ${volume.persistentVolumeClaim.claimName}, shared by ${a.owner.spec.replicas} silos (one spool per silo: give each its claim with volumeClaimTemplates)`);
        else if (volume?.persistentVolumeClaim) err(`${a.where}: spool ${dir} on a single PersistentVolumeClaim: a second silo (scale-out, a surge) cannot have its own; use volumeClaimTemplates`);
        else err(`${a.where}: spool ${dir} is on volume ${mount.name} (${Object.keys(volume ?? { missing: 1 }).filter((k) => k !== "name").join(", ")}), which is lost with its pod: spooled scans of a deleted pod would be lost`);
        continue;
      }
      const size = parseQuantity(claim.spec?.resources?.requests?.storage ?? "0");
      if (!(size >= capacity)) err(`${a.where}: spool claim ${mount.name} requests ${claim.spec?.resources?.requests?.storage ?? "nothing"}, less than ScanSink__SpoolCapacityBytes ${capacity}`);
      if (!(claim.spec?.accessModes ?? []).includes("ReadWriteOnce") && !(claim.spec?.accessModes ?? []).includes("ReadWriteOncePod")) err(`${a.where}: spool claim ${mount.name} is not ReadWriteOnce`);
      const retention = a.owner.spec?.persistentVolumeClaimRetentionPolicy ?? {};
      for (const when of ["whenScaled", "whenDeleted"]) {
        if ((retention[when] ?? "Retain") !== "Retain") err(`${a.where}: persistentVolumeClaimRetentionPolicy.${when} ${retention[when]} deletes spools that may still hold scans`);
      }
    }
  });

  r.check(`Ingress routes only the public routes (${PUBLIC_ROUTES.map((p) => `${p.path} ${p.pathType}`).join(", ")}), never ${NEVER_PUBLIC.join(", ")}`, (err) => {
    const ingresses = objects.filter((o) => o.kind === "Ingress");
    if (!ingresses.length) err("no Ingress");
    for (const ing of ingresses) {
      if (ing.spec?.defaultBackend) err(`${id(ing)}: a defaultBackend would expose every path`);
      for (const rule of ing.spec?.rules ?? []) {
        if (!rule.http?.paths?.length) err(`${id(ing)}: a rule without paths`);
        for (const p of rule.http?.paths ?? []) {
          const path = p.path ?? "/";
          if (NEVER_PUBLIC.some((bad) => path === bad || path.startsWith(bad + "/") || path.startsWith(bad))) err(`${id(ing)}: path ${path} exposes an internal endpoint`);
          else if (!PUBLIC_ROUTES.some((ok) => ok.path === path && ok.pathType === p.pathType)) err(`${id(ing)}: path ${path} (${p.pathType}) is not a public route`);
          if (p.backend?.service?.name && !gateways.some((g) => selects(find(objects, "Service", p.backend.service.name)?.spec?.selector ?? { none: "x" }, g.template.metadata?.labels))) {
            err(`${id(ing)}: path ${path} does not lead to the gateway`);
          }
        }
      }
    }
  });

  r.check("env: only names the apps read, valid values, downward-API silo identity, JSON logs, one ClusterId/ServiceId", (err) => {
    const identities = new Set();
    for (const a of apps.filter((x) => x.role)) {
      const env = containerEnv(objects, a.container, a.where, err);
      for (const [name, { from }] of env) {
        if (HELPER_ENV.includes(name) && a.role === "silo") continue;
        if (!isKnownEnv(a.role, name)) err(`${a.where}: ${name} (${from}) is not a setting the ${a.role} reads`);
      }
      for (const [name, { value }] of env) {
        if (INT_ENV.includes(name) && !/^\d+$/.test(String(value))) err(`${a.where}: ${name}=${value} is not an integer`);
        if (ENUM_ENV[name] && !ENUM_ENV[name].includes(String(value))) err(`${a.where}: ${name}=${value} is not one of ${ENUM_ENV[name].join("|")}`);
      }
      if (!env.has("ConnectionStrings__Postgres") && !env.has("DATABASE_URL")) err(`${a.where}: no ConnectionStrings__Postgres or DATABASE_URL`);
      if (env.get("ConnectionStrings__Postgres")?.from === "env" && !a.container.env.find((e) => e.name === "ConnectionStrings__Postgres")?.valueFrom) err(`${a.where}: ConnectionStrings__Postgres must come from a Secret`);
      if (a.role === "gateway" && !a.container.env?.find((e) => e.name === "Auth__ApiKey")?.valueFrom?.secretKeyRef && env.get("Auth__ApiKey")?.from?.startsWith("Secret/") !== true) err(`${a.where}: Auth__ApiKey must come from a Secret`);
      if (env.get("Logging__Console__FormatterName")?.value !== "json") err(`${a.where}: Logging__Console__FormatterName should be json`);
      if (a.owner.kind !== "Job") identities.add(`${env.get("Orleans__ClusterId")?.value ?? "invexqr"}/${env.get("Orleans__ServiceId")?.value ?? "invexqr"}`);
      if (a.role === "silo" && a.owner.kind !== "Job") {
        if (env.get("Orleans__SiloName")?.value !== "<fieldRef:metadata.name>") err(`${a.where}: Orleans__SiloName must be $(POD_NAME) with POD_NAME from fieldRef metadata.name`);
        if (env.get("Orleans__AdvertisedIP")?.value !== "<fieldRef:status.podIP>") err(`${a.where}: Orleans__AdvertisedIP must be $(POD_IP) with POD_IP from fieldRef status.podIP`);
        const labels = a.template.metadata?.labels ?? {};
        const cid = env.get("Orleans__ClusterId")?.value ?? "invexqr", sid = env.get("Orleans__ServiceId")?.value ?? "invexqr";
        if (labels["orleans/clusterId"] !== cid) err(`${a.where}: pod label orleans/clusterId=${labels["orleans/clusterId"]} != Orleans__ClusterId ${cid}`);
        if (labels["orleans/serviceId"] !== sid) err(`${a.where}: pod label orleans/serviceId=${labels["orleans/serviceId"]} != Orleans__ServiceId ${sid}`);
      }
    }
    if (identities.size > 1) err(`silos and gateways disagree on ClusterId/ServiceId: ${[...identities].join(", ")}`);
  });

  r.check("migration Job `migrate` runs the silo image with `migrate`; silos do not migrate on start-up", (err) => {
    const job = find(objects, "Job", "migrate");
    if (!job) { err("no Job named migrate"); return; }
    const cs = job.spec?.template?.spec?.containers ?? [];
    const c = cs.find((x) => roleOfImage(x.image) === "silo");
    if (!c) err("Job/migrate does not run the silo image");
    else {
      const args = argv(c);
      const cmd = args[0] === "dotnet" ? args.slice(2) : args;
      if (args[0] === "dotnet" && args[1] !== "InvexQr.Silo.dll") err(`Job/migrate runs ${args.join(" ")}`);
      if (cmd[0] !== "migrate") err(`Job/migrate runs "${args.join(" ")}" instead of migrate`);
    }
    if (!["Never", "OnFailure"].includes(job.spec?.template?.spec?.restartPolicy)) err("Job/migrate: restartPolicy must be Never or OnFailure");
    for (const a of silos) {
      const v = containerEnv(objects, a.container, a.where).get("Database__MigrateOnStartup")?.value;
      if (v !== "false") err(`${a.where}: Database__MigrateOnStartup must be "false" (the migrate Job applies migrations), is ${v ?? "unset (true)"}`);
    }
  });

  // Cluster TLS: each silo/gateway's Orleans__Tls__* files come either from the Secret invexqr-cluster-tls
  // (scripts/cluster-certs.sh: silo.*, gateway.*, ca.crt) or from the Secret of a cert-manager Certificate
  // (tls.crt, tls.key, ca.crt) whose usages fit the role (src/Silo.Hosting/Cluster/ClusterCredentials.cs).
  const clusterCerts = new Map(); // Certificate -> roles that mount it
  r.check("cluster TLS: silos and gateways mount their certificate, key and the CA where Orleans__Tls__* point, from the Secret invexqr-cluster-tls (silo.*/gateway.*) or from a cert-manager Certificate for their role (tls.*); one CA for all; TLS is never disabled", (err) => {
    const sources = new Map(); // CA source -> workloads
    for (const a of apps.filter((x) => x.role && x.owner.kind !== "Job")) {
      const env = containerEnv(objects, a.container, a.where);
      if (["true", "True"].includes(String(env.get("Orleans__Tls__Disabled")?.value))) err(`${a.where}: Orleans__Tls__Disabled=true runs the Orleans ports in clear`);
      const files = {};
      for (const name of TLS_ENV) {
        const value = env.get(name)?.value;
        if (!value) { err(`${a.where}: ${name} is not set`); continue; }
        const src = secretFile(a.template, a.container, value);
        if (!src) { err(`${a.where}: ${name}=${value} is on no mounted volume`); continue; }
        if (!src.secretName) { err(`${a.where}: ${name}=${value} is on volume ${src.volume?.name ?? src.mount.name}, which is not a Secret`); continue; }
        if (src.subPath) err(`${a.where}: ${name}=${value} is mounted with subPath, which the kubelet never updates: a renewed certificate would not reach the pod`);
        files[name] = { ...src, value };
      }
      const names = new Set(Object.values(files).map((f) => f.secretName));
      if (names.size > 1) { err(`${a.where}: Orleans__Tls__* come from several Secrets (${[...names].join(", ")}); certificate, key and CA must be one set`); continue; }
      if (names.size === 0) continue;
      const secretName = [...names][0];
      const cert = certificateFor(objects, secretName);
      let want, source;
      if (secretName === STATIC_TLS_SECRET) {
        want = { Orleans__Tls__CertificatePath: `${a.role}.crt`, Orleans__Tls__KeyPath: `${a.role}.key`, Orleans__Tls__CaPath: "ca.crt" };
        source = `Secret/${STATIC_TLS_SECRET}`;
        const secret = find(objects, "Secret", STATIC_TLS_SECRET);
        if (!secret) err(`${a.where}: no Secret ${STATIC_TLS_SECRET} (scripts/k8s-secrets.sh makes its files)`);
        else for (const key of Object.values(want)) if (!secretKeys(secret).has(key)) err(`Secret/${STATIC_TLS_SECRET} has no ${key}`);
      } else if (cert) {
        want = { Orleans__Tls__CertificatePath: "tls.crt", Orleans__Tls__KeyPath: "tls.key", Orleans__Tls__CaPath: "ca.crt" };
        const issuer = issuerOf(objects, cert);
        source = issuer?.spec?.ca?.secretName ? `the CA in Secret/${issuer.spec.ca.secretName}` : issuer ? id(issuer) : `${cert.spec?.issuerRef?.kind ?? "Issuer"}/${cert.spec?.issuerRef?.name} (missing)`;
        clusterCerts.set(cert, new Set([...(clusterCerts.get(cert) ?? []), a.role]));
        const usages = usagesOf(cert);
        const need = a.role === "silo" ? ["server auth", "client auth"] : ["client auth"];
        const lacking = need.filter((u) => !usages.has(u));
        if (lacking.length) err(`${a.where}: mounts ${id(cert)}, whose usages (${[...usages].join(", ")}) lack ${lacking.join(" and ")}, which a ${a.role} needs: it would refuse to start`);
        if (a.role === "gateway" && usages.has("server auth")) err(`${a.where}: mounts ${id(cert)}, which allows server auth: a gateway's key could then open the silo-to-silo port (use the gateway Certificate, client auth only)`);
      } else {
        err(`${a.where}: Orleans__Tls__* come from Secret ${secretName}, which is neither ${STATIC_TLS_SECRET} nor written by a cert-manager Certificate of this overlay`);
        continue;
      }
      for (const [name, key] of Object.entries(want)) {
        const f = files[name];
        if (f && f.key !== key) err(`${a.where}: ${name}=${f.value} is key ${f.key ?? "(none)"} of Secret ${secretName}, not its ${key}`);
      }
      sources.set(source, [...(sources.get(source) ?? []), a.where]);
    }
    if (sources.size > 1) err(`silos and gateways get their certificates from different CAs (${[...sources].map(([s, w]) => `${s}: ${w.join(", ")}`).join("; ")}): they would refuse each other`);
  });

  const certManager = objects.filter((o) => isCertManager(o));
  if (certManager.length) {
    r.check("cert-manager: every Certificate's issuer is in the overlay; cluster certificates come from a CA Issuer whose CA (a Certificate with isCA, key kept on renewal, or a Secret) is in the overlay; usages, key and renewal fit the app", (err, warn) => {
      const bySecret = new Map();
      for (const c of certManager.filter((o) => o.kind === "Certificate")) {
        const spec = c.spec ?? {};
        const ref = spec.issuerRef ?? {};
        const issuer = issuerOf(objects, c);
        const cluster = clusterCerts.has(c);
        if ((ref.group ?? CERT_MANAGER_GROUP) !== CERT_MANAGER_GROUP) err(`${id(c)}: issuerRef group ${ref.group}: only cert-manager's own issuers can be checked here`);
        else if (!issuer && ((ref.kind ?? "Issuer") === "Issuer" || cluster)) err(`${id(c)}: issuerRef ${ref.kind ?? "Issuer"}/${ref.name} is not in this overlay`);
        else if (!issuer) warn(`${id(c)}: ClusterIssuer/${ref.name} is not in this overlay (it must exist in the cluster)`);
        bySecret.set(spec.secretName, [...(bySecret.get(spec.secretName) ?? []), id(c)]);
        if (find(objects, "Secret", spec.secretName)) err(`${id(c)}: its Secret ${spec.secretName} is also generated by the overlay; the two would overwrite each other`);
        const duration = goDuration(spec.duration ?? "2160h"), renewBefore = spec.renewBefore === undefined ? duration / 3 : goDuration(spec.renewBefore);
        if (Number.isNaN(duration) || Number.isNaN(renewBefore)) err(`${id(c)}: duration ${spec.duration} / renewBefore ${spec.renewBefore} is not a Go duration (e.g. 2160h)`);
        else if (renewBefore >= duration) err(`${id(c)}: renewBefore ${spec.renewBefore} is not shorter than duration ${spec.duration ?? "2160h (default)"}`);
        if (!cluster) continue;
        // A node certificate: what ClusterCredentials loads and checks.
        const roles = [...clusterCerts.get(c)].join(" and ");
        if (spec.isCA) err(`${id(c)}: mounted by the ${roles} as its node certificate but isCA: true`);
        if (!usagesOf(c).has("digital signature")) err(`${id(c)}: usages lack digital signature, which the TLS handshake needs`);
        const algorithm = spec.privateKey?.algorithm ?? "RSA";
        if (!["RSA", "ECDSA"].includes(algorithm)) err(`${id(c)}: privateKey.algorithm ${algorithm}: .NET's TLS takes RSA or ECDSA keys only`);
        if (!(renewBefore > APP_EXPIRY_WARNING_HOURS * 3600)) warn(`${id(c)}: renewed ${spec.renewBefore ?? "(default: a third of its duration)"} before expiry: the pods warn at start from ${APP_EXPIRY_WARNING_HOURS}h before expiry, so set renewBefore above that`);
        if (!issuer) continue;
        if (!issuer.spec?.ca) { err(`${id(c)}: ${id(issuer)} is a ${Object.keys(issuer.spec ?? {}).join("/") || "empty"} issuer, not a CA issuer: the cluster's certificates must all chain to one CA (ca.crt)`); continue; }
        const caSecret = issuer.spec.ca.secretName;
        const caCert = certificateFor(objects, caSecret);
        const caGenerated = find(objects, "Secret", caSecret);
        if (caCert) {
          if (!caCert.spec?.isCA) err(`${id(issuer)}: its Secret ${caSecret} comes from ${id(caCert)}, which has no isCA: true`);
          if (!usagesOf(caCert).has("cert sign")) err(`${id(caCert)}: usages lack cert sign`);
          if (caCert.spec?.privateKey?.rotationPolicy !== "Never") err(`${id(caCert)}: privateKey.rotationPolicy ${caCert.spec?.privateKey?.rotationPolicy ?? "(cert-manager's default)"}: a renewed CA with a new key would sign node certificates that pods still holding the old ca.crt refuse; set Never`);
        } else if (caGenerated) {
          for (const key of ["tls.crt", "tls.key"]) if (!secretKeys(caGenerated).has(key)) err(`${id(issuer)}: Secret ${caSecret} has no ${key}`);
        } else err(`${id(issuer)}: its CA Secret ${caSecret} is not in this overlay (no Certificate with isCA: true writes it, no Secret is generated)`);
      }
      for (const [secretName, certs] of bySecret) if (certs.length > 1) err(`${certs.join(", ")} all write Secret ${secretName}`);
    });
  }

  r.check("Secrets referenced by env, envFrom, volumes and Ingress TLS exist", (err) => {
    for (const a of apps) containerEnv(objects, a.container, a.where, err);
    for (const { owner, template } of templates) {
      for (const v of template.spec?.volumes ?? []) {
        if (v.secret && !find(objects, "Secret", v.secret.secretName) && !certificateFor(objects, v.secret.secretName) && !v.secret.optional) err(`${id(owner)}: volume ${v.name} references missing Secret ${v.secret.secretName}`);
        if (v.configMap && !find(objects, "ConfigMap", v.configMap.name) && !v.configMap.optional) err(`${id(owner)}: volume ${v.name} references missing ConfigMap ${v.configMap.name}`);
      }
      for (const ps of template.spec?.imagePullSecrets ?? []) if (!find(objects, "Secret", ps.name)) err(`${id(owner)}: imagePullSecret ${ps.name} does not exist`);
    }
    for (const ing of objects.filter((o) => o.kind === "Ingress")) {
      const certManager = Object.keys(ing.metadata?.annotations ?? {}).some((k) => k.startsWith("cert-manager.io/"));
      for (const t of ing.spec?.tls ?? []) {
        if (t.secretName && !find(objects, "Secret", t.secretName) && !certManager) err(`${id(ing)}: TLS Secret ${t.secretName} does not exist and no cert-manager annotation issues it`);
      }
    }
  });

  r.check(`database: ${overlay === "dev" ? "exactly one PostgreSQL StatefulSet, reachable by the name in the connection string, with matching credentials" : "no PostgreSQL in the cluster; the connection string names the external database"}`, (err) => {
    const pgSets = objects.filter((o) => o.kind === "StatefulSet" && (o.spec?.template?.spec?.containers ?? []).some((c) => /(^|\/)postgres(ql)?(:|@|$)/.test(c.image ?? "")));
    const pgAny = templates.filter((t) => (t.template.spec?.containers ?? []).some((c) => /(^|\/)postgres(ql)?(:|@|$)/.test(c.image ?? "")));
    const conn = new Set();
    for (const a of apps.filter((x) => x.role)) {
      const env = containerEnv(objects, a.container, a.where);
      const cs = parseConnectionString(env.get("ConnectionStrings__Postgres")?.value ?? env.get("DATABASE_URL")?.value);
      if (!cs) { err(`${a.where}: connection string does not parse`); continue; }
      conn.add(JSON.stringify(cs));
    }
    if (conn.size > 1) err("silos, gateways and the migrate Job use different databases");
    const cs = conn.size ? JSON.parse([...conn][0]) : null;
    if (overlay === "dev") {
      if (pgSets.length !== 1) err(`expected exactly one PostgreSQL StatefulSet, found ${pgSets.length}`);
      if (pgAny.length !== pgSets.length) err("PostgreSQL runs in a workload that is not a StatefulSet");
      const pg = pgSets[0];
      if (pg && cs) {
        const c = pg.spec.template.spec.containers.find((x) => /postgres/.test(x.image));
        if (!/^postgres:15(\.|-|$)/.test(c.image)) err(`${id(pg)}: image ${c.image} is not postgres:15`);
        const host = cs.host.split(".")[0];
        const svc = find(objects, "Service", host);
        if (!svc) err(`connection string host ${cs.host} is not a Service`);
        else if (!selects(svc.spec?.selector ?? { none: "x" }, pg.spec.template.metadata?.labels)) err(`Service ${host} does not select ${id(pg)}`);
        else if (!(svc.spec?.ports ?? []).some((p) => String(p.port) === String(cs.port))) err(`Service ${host} has no port ${cs.port}`);
        const pgEnv = containerEnv(objects, c, id(pg), err);
        if (pgEnv.get("POSTGRES_USER")?.value !== cs.username) err(`POSTGRES_USER ${pgEnv.get("POSTGRES_USER")?.value} != connection string user ${cs.username}`);
        if (pgEnv.get("POSTGRES_PASSWORD")?.value !== cs.password) err("POSTGRES_PASSWORD differs from the connection string's password");
        if ((pgEnv.get("POSTGRES_DB")?.value ?? pgEnv.get("POSTGRES_USER")?.value) !== cs.database) err(`POSTGRES_DB differs from the connection string's database ${cs.database}`);
        const pol = objects.filter((o) => o.kind === "NetworkPolicy" && selects(o.spec?.podSelector ?? {}, pg.spec.template.metadata?.labels));
        if (!pol.length) err(`${id(pg)}: no NetworkPolicy protects PostgreSQL`);
      }
    } else {
      if (pgAny.length) err(`${overlay} must not run PostgreSQL in the cluster (found ${pgAny.map((t) => id(t.owner)).join(", ")})`);
    }
  });

  r.check(`Secrets: no weak or placeholder value (secrets and connection-string passwords at least ${MIN_SECRET_LENGTH} characters, 8 distinct, without ${PLACEHOLDER_MARKERS.join("/")})`, (err) => {
    for (const s of objects.filter((o) => o.kind === "Secret" && (o.type ?? "Opaque") === "Opaque")) {
      for (const k of secretKeys(s)) {
        const v = secretValue(s, k);
        if (CONNECTION_NAME.test(k)) {
          const cs = parseConnectionString(v);
          if (!cs) { err(`${id(s)} ${k}: not a connection string`); continue; }
          const why = weakSecretReason(cs.password);
          if (why) err(`${id(s)} ${k}: the password ${why}`);
          const marker = placeholderIn(String(v).replace(cs.password ?? "", ""));
          if (marker) err(`${id(s)} ${k}: contains the placeholder "${marker}" (host ${cs.host})`);
        } else if (SECRET_NAME.test(k)) {
          const why = weakSecretReason(v);
          if (why) err(`${id(s)} ${k} ${why}`);
        } else {
          const marker = placeholderIn(v);
          if (marker) err(`${id(s)} ${k} contains the placeholder "${marker}"`);
        }
      }
    }
  });

  r.check(`trusted proxies: every gateway believes X-Forwarded-For from the Ingress controller only: at least one Network__TrustedNetworks__N/TrustedProxies__N, each valid and no wider than /${MIN_PREFIX[4]} (IPv4) or /${MIN_PREFIX[6]} (IPv6)`, (err) => {
    for (const a of gateways) {
      const trusts = [...containerEnv(objects, a.container, a.where)].filter(([n]) => isTrustSetting(n));
      if (!trusts.length) err(`${a.where}: trusts no proxy: behind the Ingress every scan would be attributed to the ingress controller`);
      for (const [n, { value }] of trusts) for (const e of trustErrors(n, value)) err(`${a.where}: ${e}`);
    }
  });

  r.check("NetworkPolicies: PostgreSQL only from silo/gateway/migrate; silos 11111 from silos, 30000 from gateways, 8081 from the monitoring namespace; gateway 8080 from anywhere", (err) => {
    const nsLabels = { "kubernetes.io/metadata.name": namespace };
    const podOf = (role) => templates.find((t) => t.template.metadata?.labels?.["app.kubernetes.io/component"] === role && (t.template.spec?.containers ?? []).some((c) => roleOfImage(c.image) === (role === "migrate" ? "silo" : role)))?.template;
    const src = (tpl) => ({ kind: "pod", labels: tpl?.metadata?.labels ?? {}, namespaceLabels: nsLabels, inNamespace: true });
    const stranger = { kind: "pod", labels: { app: "something-else" }, namespaceLabels: nsLabels, inNamespace: true };
    const otherNs = { kind: "pod", labels: {}, namespaceLabels: { "kubernetes.io/metadata.name": "default" }, inNamespace: false };
    const monitoring = { kind: "pod", labels: {}, namespaceLabels: { "kubernetes.io/metadata.name": "monitoring" }, inNamespace: false };
    const external = { kind: "external" };
    const silo = podOf("silo"), gateway = podOf("gateway"), migrate = objects.find((o) => o.kind === "Job" && o.metadata.name === "migrate")?.spec?.template;
    const portsOf = (tpl) => Object.fromEntries((tpl?.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => [p.name, p.containerPort])));
    const expect = (dst, port, source, want, what) => {
      if (!dst) return;
      const got = ingressAllowed(objects, dst.metadata?.labels ?? {}, portsOf(dst), port, source);
      if (got !== want) err(`${what} on ${port} should be ${want ? "allowed" : "denied"}`);
    };
    if (!objects.some((o) => o.kind === "NetworkPolicy" && isEmptySelector(o.spec?.podSelector ?? {}) && (o.spec?.policyTypes ?? []).includes("Ingress") && !(o.spec?.ingress ?? []).length)) err("no default-deny ingress NetworkPolicy");
    expect(silo, PORTS.siloPort, src(silo), true, "silo <- silo");
    expect(silo, PORTS.gatewayPort, src(gateway), true, "silo <- gateway");
    expect(silo, PORTS.siloPort, src(gateway), false, "silo <- gateway");
    expect(silo, PORTS.siloPort, stranger, false, "silo <- unrelated pod");
    expect(silo, PORTS.gatewayPort, otherNs, false, "silo <- other namespace");
    expect(silo, PORTS.siloHttp, monitoring, true, "silo <- monitoring namespace");
    expect(silo, PORTS.siloHttp, external, false, "silo <- outside the cluster");
    expect(gateway, PORTS.gatewayHttp, external, true, "gateway <- anywhere");
    expect(gateway, PORTS.gatewayHttp, otherNs, true, "gateway <- ingress controller namespace");
    for (const pg of templates.filter((t) => (t.template.spec?.containers ?? []).some((c) => /(^|\/)postgres/.test(c.image ?? "")))) {
      const dst = pg.template;
      expect(dst, 5432, src(silo), true, "postgres <- silo");
      expect(dst, 5432, src(gateway), true, "postgres <- gateway");
      expect(dst, 5432, src(migrate), true, "postgres <- migrate Job");
      expect(dst, 5432, stranger, false, "postgres <- unrelated pod");
      expect(dst, 5432, otherNs, false, "postgres <- other namespace");
      expect(dst, 5432, external, false, "postgres <- outside the cluster");
    }
  });

  r.check("resources: every container sets cpu+memory requests and limits, requests <= limits", (err) => {
    for (const a of apps) {
      const res = a.container.resources ?? {};
      for (const kind of ["requests", "limits"]) for (const k of ["cpu", "memory"]) {
        if (res[kind]?.[k] === undefined) err(`${a.where}: no ${kind}.${k}`);
        else if (Number.isNaN(parseQuantity(res[kind][k]))) err(`${a.where}: ${kind}.${k} ${res[kind][k]} is not a quantity`);
      }
      for (const k of ["cpu", "memory"]) {
        if (res.requests?.[k] && res.limits?.[k] && parseQuantity(res.requests[k]) > parseQuantity(res.limits[k])) err(`${a.where}: requests.${k} ${res.requests[k]} > limits.${k} ${res.limits[k]}`);
      }
    }
  });

  r.check("security: non-root, no privilege escalation, ALL capabilities dropped, read-only root with a writable /tmp", (err) => {
    for (const a of apps) {
      const podSc = a.template.spec?.securityContext ?? {};
      const sc = a.container.securityContext ?? {};
      if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) err(`${a.where}: runAsNonRoot is not true`);
      if ((sc.runAsUser ?? podSc.runAsUser) === 0) err(`${a.where}: runs as uid 0`);
      if (sc.allowPrivilegeEscalation !== false) err(`${a.where}: allowPrivilegeEscalation is not false`);
      if (sc.privileged) err(`${a.where}: privileged`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) err(`${a.where}: capabilities.drop lacks ALL`);
      if (a.role && sc.readOnlyRootFilesystem !== true) err(`${a.where}: readOnlyRootFilesystem is not true`);
      if (sc.readOnlyRootFilesystem) {
        const m = (a.container.volumeMounts ?? []).find((x) => x.mountPath === "/tmp");
        const vol = m && (a.template.spec?.volumes ?? []).find((v) => v.name === m.name);
        if (!vol?.emptyDir) err(`${a.where}: read-only root filesystem without an emptyDir at /tmp`);
      }
      for (const m of a.container.volumeMounts ?? []) if (!(a.template.spec?.volumes ?? []).some((v) => v.name === m.name) && !(a.owner.spec?.volumeClaimTemplates ?? []).some((v) => v.metadata?.name === m.name)) err(`${a.where}: volumeMount ${m.name} has no volume`);
    }
  });

  r.check(`availability: PDBs for silos and gateways; gateway HPA autoscaling/v2 on CPU${overlay === "prod" ? " with minReplicas >= 2" : ""}; HPA-managed Deployments leave replicas unset`, (err) => {
    for (const [role, list] of [["silo", silos], ["gateway", gateways]]) {
      for (const a of list) {
        const pdbs = objects.filter((o) => o.kind === "PodDisruptionBudget" && selects(o.spec?.selector, a.template.metadata?.labels));
        if (pdbs.length !== 1) err(`${a.where}: ${pdbs.length} PodDisruptionBudgets select the ${role} pods (want 1)`);
        for (const p of pdbs) {
          if (p.spec?.minAvailable !== undefined && String(p.spec.minAvailable) !== "0" && Number(p.spec.minAvailable) >= (a.owner.spec?.replicas ?? 1)) err(`${id(p)}: minAvailable ${p.spec.minAvailable} blocks every voluntary eviction`);
          if (p.spec?.maxUnavailable !== undefined && String(p.spec.maxUnavailable) === "0") err(`${id(p)}: maxUnavailable 0 blocks every voluntary eviction`);
        }
      }
    }
    const hpas = objects.filter((o) => o.kind === "HorizontalPodAutoscaler");
    for (const a of gateways) {
      const hpa = hpas.find((h) => h.spec?.scaleTargetRef?.kind === a.owner.kind && h.spec?.scaleTargetRef?.name === a.owner.metadata.name);
      if (!hpa) { err(`${a.where}: no HorizontalPodAutoscaler`); continue; }
      if (hpa.apiVersion !== "autoscaling/v2") err(`${id(hpa)}: apiVersion ${hpa.apiVersion}, want autoscaling/v2`);
      if (!(hpa.spec?.metrics ?? []).some((m) => m.type === "Resource" && m.resource?.name === "cpu")) err(`${id(hpa)}: no CPU metric`);
      if (overlay === "prod" && !((hpa.spec?.minReplicas ?? 1) >= 2)) err(`${id(hpa)}: minReplicas ${hpa.spec?.minReplicas ?? 1} < 2 in prod`);
      if (!a.template.spec?.containers?.every((c) => c.resources?.requests?.cpu)) err(`${a.where}: CPU utilisation needs CPU requests`);
    }
    for (const h of hpas) {
      const t = objects.find((o) => o.kind === h.spec?.scaleTargetRef?.kind && o.metadata?.name === h.spec?.scaleTargetRef?.name);
      if (t?.spec?.replicas !== undefined) err(`${id(t)}: sets replicas although ${id(h)} manages it`);
    }
    if (overlay === "prod") for (const a of silos) if ((a.owner.spec?.replicas ?? 1) < 2) err(`${a.where}: fewer than 2 silos in prod`);
  });

  if (overlay === "prod") {
    r.check("prod images are pinned (a tag other than latest, or a digest)", (err) => {
      for (const a of apps) {
        const img = a.container.image ?? "";
        if (!/@sha256:/.test(img) && (!/:[^/]+$/.test(img) || /:latest$/.test(img))) err(`${a.where}: image ${img} is not pinned`);
      }
    });
  }
  return r;
}
