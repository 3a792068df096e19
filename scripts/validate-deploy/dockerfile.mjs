// Static analysis of what a Dockerfile's build stages contain: which files of the build context (after
// .dockerignore) each COPY brings where, and whether every `dotnet restore|build|publish` finds the project it
// names, the projects it references (transitively), the Directory.*.props/targets and nuget.config MSBuild picks
// up for them, and (for build/publish) their source files. No Docker engine: the file system of each stage is
// simulated from the COPY lines; RUN lines are assumed not to delete files.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";

const P = path.posix;

// ---- patterns -------------------------------------------------------------------------------------------------
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/**
 * A .dockerignore / COPY --parents pattern as a RegExp over slash-separated relative paths (moby's
 * patternmatcher): `**` spans directories (also none), `*` and `?` stay within one path component.
 */
export function patternRegExp(pattern, { doubleStar = true } = {}) {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "*") {
      if (doubleStar && pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") i++;
        re += i + 1 >= pattern.length ? ".*" : "(.*/)?";
      } else re += "[^/]*";
    } else if (ch === "?") re += "[^/]";
    else if (ch === "\\" && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else if (ch === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let cls = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (cls.startsWith("!") || cls.startsWith("^")) cls = "^" + cls.slice(1);
        re += `[${cls}]`;
        i = end;
      }
    } else re += escapeRe(ch);
  }
  return new RegExp(re + "$");
}

const hasWildcard = (s) => /[*?[]/.test(s);
/** Directories of a relative path, outermost first: a/b/c.txt -> [a, a/b]. */
const parentsOf = (file) => { const parts = file.split("/"); return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/")); };

/** .dockerignore semantics: later lines win, `!` re-includes, a pattern matching a directory covers its files. */
export class DockerIgnore {
  constructor(text = "", source = ".dockerignore") {
    this.source = source;
    this.patterns = [];
    for (let line of text.split(/\r?\n/)) {
      if (line.startsWith("#")) continue;
      line = line.trim();
      if (!line) continue;
      const negate = line.startsWith("!");
      let p = (negate ? line.slice(1) : line).trim();
      p = P.normalize(p).replace(/^\/+/, "").replace(/\/+$/, "");
      if (!p || p === ".") continue;
      this.patterns.push({ text: line, negate, re: patternRegExp(p) });
    }
  }
  static read(file, source) { return new DockerIgnore(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "", source); }
  /** The rule that leaves `file` out of the context, or null when it is sent. */
  excludedBy(file) {
    let matched = false;
    let rule = null;
    const parents = parentsOf(file);
    for (const p of this.patterns) {
      if (p.negate !== matched) continue;
      const m = p.re.test(file) || parents.some((d) => p.re.test(d));
      if (m) { matched = !p.negate; rule = p.text; }
    }
    return matched ? rule : null;
  }
}

// ---- the repository's files ----------------------------------------------------------------------------------
/**
 * Files of the repository as a fresh clone has them, plus new files not yet committed (git's
 * --cached --others --exclude-standard), so local build output and data never count. Without git: a walk
 * that skips .git, bin, obj and node_modules.
 */
export function repoFiles(root) {
  try {
    const out = execFileSync("git", ["-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 << 20 });
    return [...new Set(out.split("\0").filter(Boolean))].filter((f) => { try { return fs.statSync(path.join(root, f)).isFile(); } catch { return false; } }).sort();
  } catch {
    const out = [];
    const walk = (rel) => {
      for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) { if (![".git", "bin", "obj", "node_modules"].includes(e.name)) walk(r); }
        else if (e.isFile()) out.push(r);
      }
    };
    walk("");
    return out.sort();
  }
}

// ---- Dockerfile parsing ----------------------------------------------------------------------------------------
/** Instructions with their first line number; continuation lines joined, comment lines inside them dropped. */
export function parseDockerfile(text) {
  const lines = text.split(/\r?\n/);
  const out = [];
  let buf = null;
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (buf === null) {
      if (/^\s*(#|$)/.test(line)) continue;
      buf = "";
      start = i + 1;
    } else if (/^\s*#/.test(line)) continue;
    const m = line.match(/^(.*?)\\\s*$/);
    if (m) { buf += m[1] + " "; continue; }
    buf += line;
    const t = buf.trim();
    const sp = t.search(/\s/);
    out.push({ line: start, cmd: (sp < 0 ? t : t.slice(0, sp)).toUpperCase(), args: sp < 0 ? "" : t.slice(sp + 1).trim() });
    buf = null;
  }
  return out;
}

/** Shell-ish words of an instruction: a JSON array, or whitespace-separated words with quotes removed. */
function words(args) {
  if (args.startsWith("[")) { try { const a = JSON.parse(args); if (Array.isArray(a)) return a.map(String); } catch { /* shell form */ } }
  const out = [];
  for (const m of args.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function substitute(s, vars) {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a, op, word, b) => {
    const name = a ?? b;
    const v = vars.get(name);
    if (op === "-") return v ?? word;
    if (op === "+") return v !== undefined ? word : "";
    return v ?? m;
  });
}

function splitFlags(ws) {
  const flags = [];
  let i = 0;
  while (i < ws.length && ws[i].startsWith("--")) flags.push(ws[i++]);
  return { flags, rest: ws.slice(i) };
}
const flagValues = (flags, name) => flags.filter((f) => f === `--${name}` || f.startsWith(`--${name}=`)).map((f) => (f.includes("=") ? f.slice(f.indexOf("=") + 1) : "true"));

// ---- dotnet commands in RUN ----------------------------------------------------------------------------------------
const DOTNET_VERBS = ["restore", "build", "publish", "pack", "test"];
const VALUE_OPTIONS = new Set(["-c", "--configuration", "-o", "--output", "-r", "--runtime", "-f", "--framework", "-s", "--source",
  "-v", "--verbosity", "-a", "--arch", "--os", "--packages", "--configfile", "--version-suffix", "-p", "--property", "--lockfile-path", "--artifacts-path"]);

/** dotnet invocations of a RUN command: [{verb, target (or null), noRestore, cwd}]. `cd` between commands is followed. */
export function dotnetCommands(shell, workdir) {
  const out = [];
  let cwd = workdir;
  for (const cmd of shell.split(/&&|\|\||;|\||\n/)) {
    const ws = words(cmd.trim());
    if (!ws.length) continue;
    if (ws[0] === "cd" && ws[1]) { cwd = P.resolve(cwd, ws[1]); continue; }
    if (!/(^|\/)dotnet$/.test(ws[0]) || !DOTNET_VERBS.includes(ws[1])) continue;
    let target = null;
    let noRestore = false;
    for (let i = 2; i < ws.length; i++) {
      const w = ws[i];
      if (w === "--no-restore") noRestore = true;
      else if (VALUE_OPTIONS.has(w)) i++;
      else if (!w.startsWith("-") && target === null) target = w;
    }
    out.push({ verb: ws[1], target, noRestore, cwd });
  }
  return out;
}

// ---- stages -----------------------------------------------------------------------------------------------------------
/**
 * Simulates the stages: fs maps an absolute path in the stage to {ctx} (the context file it came from) or
 * {unknown: true} (copied from an image or produced by a RUN). Returns {stages, steps, problems}.
 */
export function simulate(instructions, contextFiles) {
  const ctxSet = new Set(contextFiles);
  const ctxDirs = new Set(contextFiles.flatMap(parentsOf));
  const stages = [];
  const steps = [];
  const problems = [];
  const globals = new Map();
  let st = null;
  for (const ins of instructions) {
    const vars = st ? st.vars : globals;
    if (ins.cmd === "ARG") {
      for (const w of words(ins.args)) { const i = w.indexOf("="); const k = i < 0 ? w : w.slice(0, i); if (i >= 0) vars.set(k, substitute(w.slice(i + 1), vars)); else if (!vars.has(k) && globals.has(k)) vars.set(k, globals.get(k)); }
      continue;
    }
    if (ins.cmd === "FROM") {
      const ws = words(substitute(ins.args, globals)).filter((w) => !w.startsWith("--"));
      const image = ws[0] ?? "";
      const name = ws[1]?.toLowerCase() === "as" ? ws[2] : undefined;
      const parent = stages.find((s) => s.name && s.name.toLowerCase() === image.toLowerCase());
      st = { name, index: stages.length, image, line: ins.line, parent, fs: new Map(parent ? parent.fs : []), workdir: parent ? parent.workdir : "/", vars: new Map(parent ? parent.vars : []), steps: [] };
      stages.push(st);
      continue;
    }
    if (!st) continue;
    if (ins.cmd === "ENV") {
      const ws = words(ins.args);
      if (ws.length === 2 && !ws[0].includes("=")) st.vars.set(ws[0], substitute(ws[1], st.vars));
      else for (const w of ws) { const i = w.indexOf("="); if (i > 0) st.vars.set(w.slice(0, i), substitute(w.slice(i + 1), st.vars)); }
    } else if (ins.cmd === "WORKDIR") {
      st.workdir = P.resolve(st.workdir, substitute(ins.args.trim(), st.vars));
    } else if (ins.cmd === "COPY" || ins.cmd === "ADD") {
      const { flags, rest } = splitFlags(words(ins.args).map((w) => substitute(w, st.vars)));
      if (rest.length < 2) continue;
      const from = flagValues(flags, "from")[0];
      const parents = flagValues(flags, "parents").some((v) => v !== "false");
      const excludes = flagValues(flags, "exclude").map((p) => patternRegExp(P.normalize(p).replace(/^\.?\//, "")));
      const dest = rest.at(-1);
      const srcs = rest.slice(0, -1).filter((s) => !/^(https?|git):\/\/|^git@/.test(s));
      const destAbs = P.resolve(st.workdir, dest);
      const destIsDir = dest.endsWith("/") || dest === "." || srcs.length > 1 || srcs.some(hasWildcard) || parents;
      let universe;
      if (from === undefined) universe = { files: contextFiles, set: ctxSet, dirs: ctxDirs, origin: (f) => ({ ctx: f }) };
      else {
        const src = /^\d+$/.test(from) ? stages[Number(from)] : stages.find((s) => s.name && s.name.toLowerCase() === from.toLowerCase());
        if (!src) continue; // an image: its content is unknown and never a context file
        const files = [...src.fs.keys()].map((k) => k.slice(1));
        universe = { files, set: new Set(files), dirs: new Set(files.flatMap(parentsOf)), origin: (f) => src.fs.get("/" + f) };
      }
      for (const raw of srcs) {
        const copied = copySources(raw, universe, { parents, destAbs, destIsDir, excludes });
        for (const [to, f] of copied) st.fs.set(to, universe.origin(f));
        if (!copied.length && !parents && from === undefined) problems.push({ line: ins.line, source: raw, message: `COPY source ${raw} (line ${ins.line}) matches nothing in the build context` });
      }
    } else if (ins.cmd === "RUN") {
      const { flags, rest } = splitFlags(words(ins.args));
      const shell = rest.join(" ");
      // RUN --mount=type=bind (no from=): the context (or a part of it) is visible during this command only.
      const mounted = new Map(st.fs);
      for (const m of flagValues(flags, "mount")) {
        const kv = Object.fromEntries(m.split(",").map((p) => { const i = p.indexOf("="); return i < 0 ? [p, "true"] : [p.slice(0, i), p.slice(i + 1)]; }));
        if ((kv.type ?? "bind") !== "bind" || kv.from) continue;
        const target = P.resolve(st.workdir, kv.target ?? kv.dst ?? kv.destination ?? ".");
        const source = P.normalize(kv.source ?? kv.src ?? ".").replace(/^\.?\/?/, "");
        for (const f of contextFiles) if (!source || f === source || f.startsWith(source + "/")) mounted.set(P.join(target, source ? P.relative(source, f) || P.basename(f) : f), { ctx: f });
      }
      for (const d of dotnetCommands(shell, st.workdir)) {
        const step = { ...d, line: ins.line, stage: st, fs: mounted };
        st.steps.push(step);
        steps.push(step);
      }
    }
  }
  return { stages, steps, problems };
}

/** [stage path, source file] pairs a COPY source produces. */
function copySources(raw, u, { parents, destAbs, destIsDir, excludes }) {
  const out = [];
  let src = raw.replace(/^\/+/, "");
  let base = "";
  if (parents) {
    const pivot = src.indexOf("/./");
    if (pivot >= 0) { base = P.normalize(src.slice(0, pivot)); src = src.slice(0, pivot) + "/" + src.slice(pivot + 3); }
  }
  src = P.normalize(src || ".").replace(/\/+$/, "");
  if (src === "." || src === "") src = "";
  if (src.startsWith("../")) return out;
  const keep = (f) => !excludes.some((re) => re.test(f) || parentsOf(f).some((d) => re.test(d)));
  if (parents) {
    const re = patternRegExp(src || "**");
    for (const f of u.files) {
      if (!keep(f)) continue;
      if (src === "" || re.test(f) || parentsOf(f).some((d) => re.test(d))) {
        if (base && !f.startsWith(base + "/")) continue;
        out.push([P.join(destAbs, base ? P.relative(base, f) : f), f]);
      }
    }
    return out;
  }
  if (hasWildcard(src)) {
    const re = patternRegExp(src, { doubleStar: false });
    for (const f of u.files) {
      if (!keep(f)) continue;
      if (re.test(f)) out.push([P.join(destAbs, P.basename(f)), f]);
      // A directory matched by a wildcard: its contents land in dest, without the directory itself.
      else { const d = parentsOf(f).find((x) => re.test(x)); if (d) out.push([P.join(destAbs, P.relative(d, f)), f]); }
    }
    return out;
  }
  if (src && u.set.has(src)) { if (keep(src)) out.push([destIsDir ? P.join(destAbs, P.basename(src)) : destAbs, src]); return out; }
  if (src === "" || u.dirs.has(src)) {
    for (const f of u.files) if ((src === "" || f.startsWith(src + "/")) && keep(f)) out.push([P.join(destAbs, src ? P.relative(src, f) : f), f]);
  }
  return out;
}

// ---- MSBuild inputs, from the repository ---------------------------------------------------------------------------
const stripComments = (xml) => xml.replace(/<!--[\s\S]*?-->/g, "");
const attr = (tag, name) => tag.match(new RegExp(`\\s${name}\\s*=\\s*"([^"]*)"`, "i"))?.[1];
const splitItems = (v) => (v ?? "").split(";").map((s) => s.trim().replace(/\\/g, "/")).filter((s) => s && !s.includes("$(") && !s.includes("@(") && !s.includes("%("));

/** MSBuild files looked up upwards from a project's directory (case-insensitively for nuget.config). */
const UPWARD = ["Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "nuget.config"];

/** ProjectReferences, relative Imports and the item globs of a project or props file (paths relative to the repo root). */
export function readMsbuildFile(root, rel) {
  const xml = stripComments(fs.readFileSync(path.join(root, rel), "utf8"));
  const dir = P.dirname(rel);
  const norm = (p) => P.normalize(P.join(dir, p));
  const refs = [], imports = [], includes = [], removes = [];
  for (const m of xml.matchAll(/<ProjectReference\b[^>]*>/g)) for (const p of splitItems(attr(m[0], "Include"))) refs.push(norm(p));
  for (const m of xml.matchAll(/<Import\b[^>]*>/g)) if (!attr(m[0], "Sdk")) for (const p of splitItems(attr(m[0], "Project"))) imports.push(norm(p));
  for (const m of xml.matchAll(/<(Compile|EmbeddedResource|Content|None)\b([^>]*?)(\/>|>([\s\S]*?)<\/\1>)/g)) {
    const [, type, attrs, , body = ""] = m;
    const tag = `<${type}${attrs}>`;
    const copied = /CopyTo(Output|Publish)Directory/.test(attrs + body) && !/(Never)/.test((attr(tag, "CopyToOutputDirectory") ?? "") + (attr(tag, "CopyToPublishDirectory") ?? ""));
    if (type !== "None" || copied) for (const p of splitItems(attr(tag, "Include"))) includes.push({ type, glob: p });
    if (type !== "None") for (const p of splitItems(attr(tag, "Remove"))) removes.push({ type, glob: p });
  }
  return { refs, imports, includes, removes, web: /<Project\b[^>]*Sdk\s*=\s*"Microsoft\.NET\.Sdk\.(Web|Razor|BlazorWebAssembly)"/i.test(xml) };
}

/** The nearest file named `name` at or above `dir` in a set of relative paths (case-insensitive for nuget.config). */
function nearestAbove(dir, name, has) {
  for (let d = dir || "."; ; d = P.dirname(d)) {
    const hit = has(P.join(d, name), name);
    if (hit) return hit;
    if (d === "." || d === "/") return null;
  }
}

/**
 * The transitive ProjectReference closure of `roots` (repo-relative .csproj paths) with, for each project,
 * the files restore reads and the source files build reads. Problems (a reference to a missing file) go to err.
 */
export function projectClosure(root, roots, files, err) {
  const fileSet = new Set(files);
  const lower = new Map(files.map((f) => [f.toLowerCase(), f]));
  const has = (p, name) => (name.toLowerCase() === "nuget.config" ? lower.get(p.toLowerCase()) : fileSet.has(p) ? p : null);
  const projects = new Map();
  const queue = roots.map((r) => ({ proj: r, via: [] }));
  while (queue.length) {
    const { proj, via } = queue.shift();
    if (projects.has(proj)) continue;
    if (!fileSet.has(proj)) { err(`${proj}${via.length ? ` (referenced by ${via.at(-1)})` : ""} does not exist in the repository`); continue; }
    const info = readMsbuildFile(root, proj);
    const dir = P.dirname(proj);
    const restore = new Set([proj]);
    const upward = {};
    const addImports = (f, seen = new Set()) => {
      if (seen.has(f) || !fileSet.has(f)) return;
      seen.add(f);
      restore.add(f);
      for (const i of readMsbuildFile(root, f).imports) addImports(i, seen);
    };
    for (const i of info.imports) addImports(i);
    // Found by walking up from the project's directory (checked that way in the stage too), not by a fixed path.
    for (const name of UPWARD) upward[name] = nearestAbove(dir, name, has);
    projects.set(proj, { proj, dir, via, info, restore: [...restore], upward, sources: projectSources(dir, info, files) });
    for (const r of info.refs) queue.push({ proj: r, via: [...via, proj] });
  }
  return projects;
}

/** Files a build of the project compiles, embeds or copies: the SDK's default globs and the project's own items. */
function projectSources(dir, info, files) {
  const under = files.filter((f) => dir === "." || f.startsWith(dir + "/")).map((f) => (dir === "." ? f : f.slice(dir.length + 1)));
  const isDefaultExcluded = (f) => /^(bin|obj)\//.test(f) || /(^|\/)\.[^/]+\//.test(f) || /(^|\/)node_modules\//.test(f) || /\.(\w+proj|user|sln|slnx)$/.test(f);
  const globs = [{ type: "Compile", glob: "**/*.cs" }, { type: "EmbeddedResource", glob: "**/*.resx" }, ...info.includes];
  if (info.web) globs.push(...["wwwroot/**", "**/*.json", "**/*.config", "**/*.cshtml", "**/*.razor"].map((glob) => ({ type: "Content", glob })));
  const out = new Set();
  for (const f of under) {
    if (isDefaultExcluded(f) && !info.includes.some((g) => patternRegExp(g.glob).test(f))) continue;
    for (const g of globs) {
      if (!patternRegExp(g.glob).test(f)) continue;
      if (info.removes.some((r) => r.type === g.type && (patternRegExp(r.glob).test(f) || parentsOf(f).some((d) => patternRegExp(r.glob).test(d))))) continue;
      out.add(dir === "." ? f : `${dir}/${f}`);
      break;
    }
  }
  return [...out].sort();
}

/** Projects of a .sln / .slnx, repo-relative. */
function solutionProjects(root, rel) {
  const text = fs.readFileSync(path.join(root, rel), "utf8");
  const dir = P.dirname(rel);
  const found = rel.endsWith(".slnx")
    ? [...text.matchAll(/<Project\b[^>]*\bPath\s*=\s*"([^"]+\.\w+proj)"/g)].map((m) => m[1])
    : [...text.matchAll(/^Project\("[^"]*"\)\s*=\s*"[^"]*",\s*"([^"]+\.\w+proj)"/gm)].map((m) => m[1]);
  return found.map((p) => P.normalize(P.join(dir, p.replace(/\\/g, "/"))));
}

// ---- the check -----------------------------------------------------------------------------------------------------------
/**
 * Checks one Dockerfile. dockerfile and context are repo-relative; ignore defaults to
 * <Dockerfile>.dockerignore next to it, else <context>/.dockerignore (BuildKit's order).
 * Returns {errors, steps: [{line, verb, project, closure}]}.
 */
export function checkDockerBuildInputs(root, { dockerfile, context = ".", ignoreFile, files = repoFiles(root) }) {
  const errors = [];
  const err = (m) => errors.push(m);
  const ctx = P.normalize(context);
  const dfIgnore = `${dockerfile}.dockerignore`;
  const ignorePath = ignoreFile ?? (fs.existsSync(path.join(root, dfIgnore)) ? dfIgnore : P.join(ctx, ".dockerignore"));
  const ignore = DockerIgnore.read(path.join(root, ignorePath), ignorePath);
  const inCtx = (f) => ctx === "." || f.startsWith(ctx + "/");
  const rel = (f) => (ctx === "." ? f : f.slice(ctx.length + 1));
  const contextFiles = files.filter(inCtx).map(rel).filter((f) => !ignore.excludedBy(f));
  const { steps, problems } = simulate(parseDockerfile(fs.readFileSync(path.join(root, dockerfile), "utf8")), contextFiles);
  for (const p of problems) err(p.message);
  const report = [];
  // Why a needed repository file is not where MSBuild will look for it.
  const why = (f, step) => {
    if (!inCtx(f)) return `outside the build context ${ctx}`;
    const rule = ignore.excludedBy(rel(f));
    if (rule) return `left out of the context by ${ignorePath} rule '${rule}'`;
    return `no COPY before line ${step.line} puts it there`;
  };
  for (const step of steps) {
    const where = `\`dotnet ${step.verb}\` (line ${step.line}, stage ${step.stage.name ?? step.stage.index})`;
    // The project or solution the command builds, as a stage path and the context file it came from.
    let target = step.target ? P.resolve(step.cwd, step.target) : step.cwd;
    if (!/\.(\w+proj|sln|slnx)$/.test(target)) {
      const here = [...step.fs.keys()].filter((k) => P.dirname(k) === target && /\.(\w+proj|sln|slnx)$/.test(k));
      const projs = here.filter((k) => /proj$/.test(k));
      const pick = projs.length === 1 ? projs : here.filter((k) => /\.slnx?$/.test(k));
      if (pick.length !== 1) { err(`${where}: ${target} holds ${here.length ? "more than one" : "no"} project or solution file`); continue; }
      target = pick[0];
    }
    const origin = step.fs.get(target);
    if (!origin?.ctx) { err(`${where}: ${target} is not in the stage${origin ? " from the build context" : ""}`); continue; }
    const targetRepo = ctx === "." ? origin.ctx : `${ctx}/${origin.ctx}`;
    const roots = /\.slnx?$/.test(targetRepo) ? solutionProjects(root, targetRepo) : [targetRepo];
    const closure = projectClosure(root, roots, files, (m) => err(`${where}: ${m}`));
    // Stage path of a repository file, as MSBuild resolves relative paths from the target's directory.
    const stagePath = (f) => P.join(P.dirname(target), P.relative(P.dirname(targetRepo), f));
    const present = (f) => step.fs.get(stagePath(f))?.ctx === rel(f);
    const stageHas = (p, name) => {
      if (name.toLowerCase() !== "nuget.config") return step.fs.has(p) ? p : null;
      const lc = p.toLowerCase();
      return [...step.fs.keys()].find((k) => k.toLowerCase() === lc) ?? null;
    };
    const needsSources = step.verb !== "restore";
    const seen = new Set();
    for (const p of closure.values()) {
      const label = p.via.length ? `${p.proj} (referenced by ${p.via.join(" -> ")})` : p.proj;
      for (const f of p.restore) {
        if (present(f)) continue;
        err(`${where}: ${f === p.proj ? `project ${label}` : `${f} (read by ${p.proj})`} is missing from the stage at ${stagePath(f)}: ${why(f, step)}`);
      }
      for (const name of UPWARD) {
        const inStage = nearestAbove(stagePath(p.dir), name, stageHas);
        const want = p.upward[name];
        const got = inStage ? step.fs.get(inStage)?.ctx : null;
        const once = (key, msg) => { if (!seen.has(key)) { seen.add(key); err(msg); } };
        if (want && !inStage) once(`${name}|${want}|-`, `${where}: ${want}, which MSBuild reads for ${label}, is missing from the stage (none at or above ${stagePath(p.dir)}): ${why(want, step)}`);
        else if (want && got !== rel(want)) once(`${name}|${want}|${inStage}`, `${where}: MSBuild would read ${inStage} (${got ?? "not from the context"}) for ${label} instead of ${want}`);
        else if (!want && inStage) once(`${name}|-|${inStage}`, `${where}: MSBuild would read ${inStage} for ${label}, which the repository build does not have`);
      }
      if (needsSources) {
        const missing = p.sources.filter((f) => !present(f));
        if (missing.length) err(`${where}: project ${label}: ${missing.length} of its ${p.sources.length} source files are missing from the stage, e.g. ${missing[0]}: ${why(missing[0], step)}`);
      }
    }
    if (step.noRestore && step.verb !== "restore") {
      const restored = collectSteps(step.stage).filter((s) => s !== step && s.line < step.line && (s.verb === "restore" || !s.noRestore));
      if (!restored.some((s) => s.closure?.has(roots[0]))) err(`${where}: --no-restore, but no earlier \`dotnet restore\` in this stage restored ${roots[0]}`);
    }
    step.closure = closure;
    report.push({ line: step.line, verb: step.verb, project: targetRepo, closure: [...closure.keys()] });
  }
  return { errors, steps: report, ignorePath };
}

/** The dotnet steps of a stage and of the stages it is built FROM. */
function collectSteps(stage) {
  const out = [];
  for (let s = stage; s; s = s.parent) out.push(...s.steps);
  return out;
}

/** Dockerfiles of the repository (not the validator's fixtures). */
export function findDockerfiles(files) {
  return files.filter((f) => /(^|\/)(Dockerfile|[^/]+\.Dockerfile|Dockerfile\.[^/.]+)$/.test(f) && !/\.dockerignore$/.test(f) && !f.startsWith("scripts/validate-deploy/fixtures/"));
}
