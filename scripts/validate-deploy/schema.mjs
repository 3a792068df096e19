// Kubernetes OpenAPI schema checks through the npm package kubernetes-models (and, for cert-manager's kinds,
// @kubernetes-models/cert-manager, generated from cert-manager's CRDs):
//  - validateSchema(obj): the model class for apiVersion/kind (unknown kind = error) and its .validate()
//    (types, enums, required fields, formats);
//  - unknownFields(obj): fields the API does not define (its validators allow extra properties, the API
//    server with strict field validation does not). The field lists come from the same packages' type
//    declarations (.d.ts), walked from the kind's interface through its imports.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(import.meta.url);
const modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"));
const nodeModules = path.dirname(modelsRoot);
/** Model packages by API group: the built-in groups from kubernetes-models, CRD groups from their own package. */
const PACKAGES = [
  { name: "@kubernetes-models/cert-manager", groups: /^(acme\.)?cert-manager\.io\// },
  { name: "kubernetes-models", groups: /^/ },
];
const packageOf = (apiVersion) => PACKAGES.find((p) => p.groups.test(apiVersion));
const packageRoot = (pkg) => path.join(nodeModules, pkg.name);

const moduleCache = new Map();
async function loadGroup(apiVersion) {
  if (!moduleCache.has(apiVersion)) {
    let mod = null;
    const pkg = packageOf(apiVersion);
    if (/^[a-z0-9.-]*\/?v[0-9a-z]+$/.test(apiVersion) && fs.existsSync(path.join(packageRoot(pkg), apiVersion, "index.js"))) {
      mod = await import(`${pkg.name}/${apiVersion}`);
    }
    moduleCache.set(apiVersion, mod);
  }
  return moduleCache.get(apiVersion);
}

/** The kubernetes-models class for apiVersion/kind, or null when the package does not know the kind. */
export async function modelClass(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return null;
  const mod = await loadGroup(apiVersion);
  const cls = mod?.[kind];
  if (typeof cls !== "function" || cls.kind !== kind || cls.apiVersion !== apiVersion) return null;
  return cls;
}

/** Returns a list of error strings (empty when valid). */
export async function validateSchema(obj) {
  const cls = await modelClass(obj?.apiVersion, obj?.kind);
  if (!cls) return [`unknown apiVersion/kind ${obj?.apiVersion}/${obj?.kind} (not in ${packageOf(String(obj?.apiVersion ?? "")).name})`];
  // kustomize v5 folds long base64 values over several lines; the API server's base64 decoder (Go) skips
  // \r and \n, so the "byte" format is checked without them.
  const bytes = { Secret: "data", ConfigMap: "binaryData" }[obj.kind];
  if (bytes && obj[bytes]) obj = { ...obj, [bytes]: Object.fromEntries(Object.entries(obj[bytes]).map(([k, v]) => [k, typeof v === "string" ? v.replace(/[\r\n]/g, "") : v])) };
  try {
    new cls(obj).validate();
    return [];
  } catch (e) {
    const details = Array.isArray(e.errors) && e.errors.length
      ? e.errors.map((x) => `${x.instancePath || "/"} ${x.message}`)
      : [e.message];
    return details.map((d) => `schema: ${d}`);
  }
}

// ---- unknown fields, from the .d.ts declarations -----------------------------------------------------------
const ifaceCache = new Map();

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

function resolveImport(fromFile, spec) {
  let p;
  if (spec.startsWith(".")) p = path.resolve(path.dirname(fromFile), spec);
  else p = path.join(nodeModules, spec);
  p = p.replace(/\.js$/, "");
  return `${p}.d.ts`;
}

/** {props: Map(name -> typeString), imports: Map(typeName -> file)} for the first interface of a .d.ts. */
function readInterface(file) {
  if (ifaceCache.has(file)) return ifaceCache.get(file);
  let result = null;
  if (fs.existsSync(file)) {
    const text = stripComments(fs.readFileSync(file, "utf8"));
    const imports = new Map();
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
      for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean)) imports.set(name, resolveImport(file, m[2]));
    }
    const start = text.search(/export interface \w+\s*(extends[^{]*)?\{/);
    if (start >= 0) {
      let i = text.indexOf("{", start) + 1;
      let depth = 0, seg = "";
      const props = new Map();
      for (; i < text.length; i++) {
        const c = text[i];
        if (c === "{" || c === "<" || c === "(") depth++;
        if (c === "}" || c === ">" || c === ")") {
          if (depth === 0) break;
          depth--;
        }
        if (c === ";" && depth === 0) {
          const m = seg.trim().match(/^"?([A-Za-z0-9_$-]+)"?\??\s*:\s*([\s\S]*)$/);
          if (m) props.set(m[1], m[2].trim());
          seg = "";
        } else seg += c;
      }
      result = { props, imports };
    }
  }
  ifaceCache.set(file, result);
  return result;
}

function typeRef(typeString) {
  const arr = typeString.match(/^Array<(I\w+)>$/);
  if (arr) return { array: true, name: arr[1] };
  const one = typeString.match(/^(I\w+)$/);
  if (one) return { array: false, name: one[1] };
  return null; // scalar, union of literals, map ({ [key: string]: ... }) or alias: not walked
}

function walk(value, file, where, errors) {
  const iface = readInterface(file);
  if (!iface || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (!iface.props.has(key)) {
      errors.push(`unknown field ${where}.${key}`);
      continue;
    }
    const ref = typeRef(iface.props.get(key));
    if (!ref || !iface.imports.has(ref.name)) continue;
    const childFile = iface.imports.get(ref.name);
    const childIface = readInterface(childFile);
    if (!childIface || childIface.props.size === 0) continue; // aliases such as IntOrString, Quantity
    if (ref.array && Array.isArray(child)) child.forEach((item, n) => walk(item, childFile, `${where}.${key}[${n}]`, errors));
    else if (!ref.array) walk(child, childFile, `${where}.${key}`, errors);
  }
}

/** Fields of obj the Kubernetes API does not define, as error strings. */
export function unknownFields(obj) {
  const errors = [];
  if (!obj?.apiVersion || !obj?.kind) return errors;
  const file = path.join(packageRoot(packageOf(obj.apiVersion)), obj.apiVersion, `${obj.kind}.d.ts`);
  if (!fs.existsSync(file)) return errors; // validateSchema reports unknown kinds
  walk(obj, file, obj.kind, errors);
  return errors;
}
