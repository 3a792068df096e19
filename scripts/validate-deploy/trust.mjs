// Weak secrets and over-wide proxy trust: the rules shared by the docker-compose.yml and Kubernetes checks.
import net from "node:net";

/** The gateway refuses an admin key shorter than this, or containing one of the markers below, at start-up too. */
export const MIN_SECRET_LENGTH = 24;
export const PLACEHOLDER_MARKERS = ["change-me", "changeme", "change_me", "placeholder", "example", "replace"];
/** Secret-bearing setting or variable names (Auth__ApiKey, POSTGRES_PASSWORD, INVEXQR_API_KEY, ...). */
export const SECRET_NAME = /(key|password|passwd|secret|token)$/i;
/** Settings holding a connection string, whose password part is a secret. */
export const CONNECTION_NAME = /^(ConnectionStrings__\w+|DATABASE_URL)$/;
/** Narrowest allowed trust: no IPv4 network wider than /16, no IPv6 network wider than /48. */
export const MIN_PREFIX = { 4: 16, 6: 48 };

/** Why `value` is not acceptable as a secret, or null. */
export function weakSecretReason(value) {
  if (value === undefined || value === null || value === "") return "is empty";
  const v = String(value);
  const marker = PLACEHOLDER_MARKERS.find((m) => v.toLowerCase().includes(m));
  if (marker) return `contains the placeholder marker "${marker}"`;
  if (v.length < MIN_SECRET_LENGTH) return `is ${v.length} characters long (at least ${MIN_SECRET_LENGTH} required)`;
  if (new Set(v).size < 8) return "has fewer than 8 distinct characters";
  return null;
}

/** Placeholder markers anywhere in a non-secret part (e.g. a connection string's host), or null. */
export function placeholderIn(value) {
  const v = String(value ?? "").toLowerCase();
  return PLACEHOLDER_MARKERS.filter((m) => m !== "example").find((m) => v.includes(m)) ?? null;
}

function ipBits(addr) {
  if (net.isIPv4(addr)) return { family: 4, bits: addr.split(".").map((o) => Number(o).toString(2).padStart(8, "0")).join("") };
  if (!net.isIPv6(addr)) return null;
  let [head, tail = null] = addr.split("::");
  const h = head ? head.split(":") : [];
  const t = tail === null ? [] : tail ? tail.split(":") : [];
  // An embedded IPv4 tail (::ffff:10.0.0.1) counts as two groups.
  const expand = (groups) => groups.flatMap((g) => (g.includes(".") ? ipBits(g).bits.match(/.{16}/g).map((b) => parseInt(b, 2).toString(16)) : [g]));
  const hh = expand(h), tt = expand(t);
  const groups = tail === null ? hh : [...hh, ...Array(8 - hh.length - tt.length).fill("0"), ...tt];
  return { family: 6, bits: groups.map((g) => parseInt(g, 16).toString(2).padStart(16, "0")).join("") };
}

/**
 * A trusted-proxy setting as the gateway parses it: Network__TrustedProxies__N is one address,
 * Network__TrustedNetworks__N a network in CIDR notation. Returns {error} or {family, prefix}.
 */
export function parseTrust(kind, value) {
  const v = String(value ?? "").trim();
  if (kind === "proxy") {
    const b = ipBits(v);
    return b ? { family: b.family, prefix: b.family === 4 ? 32 : 128 } : { error: `"${v}" is not an IP address (the gateway would fail to start)` };
  }
  const m = v.match(/^([^/]+)\/(\d{1,3})$/);
  const b = m && ipBits(m[1]);
  if (!b) return { error: `"${v}" is not a network in CIDR notation such as 10.244.0.0/24 (the gateway would fail to start)` };
  const prefix = Number(m[2]);
  if (prefix > b.bits.length) return { error: `"${v}": prefix /${prefix} is longer than the address` };
  if (/1/.test(b.bits.slice(prefix))) return { error: `"${v}" has host bits set beyond /${prefix}` };
  return { family: b.family, prefix };
}

/** Errors for one trusted-proxy setting (name like Network__TrustedNetworks__0). */
export function trustErrors(name, value) {
  const kind = /TrustedProxies/.test(name) ? "proxy" : "network";
  const t = parseTrust(kind, value);
  if (t.error) return [`${name}: ${t.error}`];
  if (t.prefix < MIN_PREFIX[t.family]) return [`${name}=${value} trusts /${t.prefix}: every address in it may forge X-Forwarded-For; trust only the reverse proxy or ingress controller (IPv${t.family} prefix at least /${MIN_PREFIX[t.family]})`];
  return [];
}

export const isTrustSetting = (name) => /^Network__Trusted(Networks|Proxies)__\d+$/.test(name);
