// The InvexQR owners' dashboard: a small single-page app over the gateway's API (hash routes, so the
// gateway serves one page). Signed in with a session cookie the gateway sets; nothing secret is kept here.
import * as Api from './api.js';
import { h, replace, announce, safeHref, fmt, countryName } from './dom.js';
import * as Charts from './charts.js';

const main = document.getElementById('main');
const account = document.getElementById('account');
const REFRESH_MS = 10_000;
let me = null;
let teardown = []; // run when leaving a page: timers, chart instances, listeners

// ---- routing ------------------------------------------------------------------------------------------
const routes = [
  [/^#?\/?$/, () => listPage()],
  [/^#\/new$/, () => editPage(null)],
  [/^#\/codes\/([^/]+)\/edit$/, (m) => editPage(decodeURIComponent(m[1]))],
  [/^#\/codes\/([^/]+)$/, (m) => codePage(decodeURIComponent(m[1]))],
  [/^#\/keys$/, () => keysPage()],
  [/^#\/bulk$/, () => bulkPage()],
  [/^#\/owners$/, () => ownersPage()],
];

async function route() {
  teardown.forEach((f) => f());
  teardown = [];
  if (!me) {
    try {
      me = await Api.whoAmI();
    } catch {
      return signInPage();
    }
  }
  renderAccount();
  for (const [pattern, page] of routes) {
    const match = location.hash.match(pattern);
    if (match) {
      try {
        await page(match);
      } catch (error) {
        if (error instanceof Api.ApiError && error.status === 401) return;
        replace(main, h('h1', { text: 'Something went wrong' }), h('p', { class: 'error', role: 'alert', text: error.message }),
          h('p', {}, h('a', { href: '#/', text: 'Back to your codes' })));
      }
      return;
    }
  }
  replace(main, h('h1', { text: 'Not found' }), h('p', {}, h('a', { href: '#/', text: 'Back to your codes' })));
}

function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

function setTitle(text) {
  document.title = text ? `${text} · InvexQR` : 'InvexQR dashboard';
}

Api.onUnauthorized(() => {
  me = null;
  renderAccount();
  signInPage('Your session has ended. Sign in again.');
});

function renderAccount() {
  if (!me) return replace(account);
  replace(account,
    h('a', { href: '#/bulk', text: 'Bulk' }),
    h('a', { href: '#/keys', text: 'API keys' }),
    me.role === 'admin' ? h('a', { href: '#/owners', text: 'Owners' }) : null,
    h('span', { class: 'muted', id: 'owner-name', text: `${me.name ?? `Owner ${me.ownerId}`} (${me.role})` }),
    h('button', { type: 'button', class: 'secondary', onclick: async () => {
      try { await Api.signOut(); } finally { me = null; renderAccount(); signInPage('Signed out.'); }
    } }, 'Sign out'));
}

// ---- sign in ------------------------------------------------------------------------------------------
function signInPage(message) {
  teardown.forEach((f) => f());
  teardown = [];
  setTitle('Sign in');
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const key = h('input', { id: 'api-key', name: 'apiKey', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', 'aria-describedby': 'signin-help signin-error' });
  const form = h('form', { class: 'card narrow', onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = '';
    try {
      await Api.signIn(key.value);
      key.value = '';
      me = await Api.whoAmI();
      announce('Signed in.');
      route();
    } catch (err) {
      error.textContent = err.status === 401 ? 'That API key is not valid.' : err.message;
      key.focus();
    }
  } },
  h('h1', { text: 'Sign in' }),
  message ? h('p', { class: 'notice', text: message }) : null,
  h('label', { for: 'api-key', text: 'API key' }),
  key,
  h('p', { class: 'muted small', id: 'signin-help', text: 'The key is exchanged for a session cookie (8 hours); it is not stored in this browser.' }),
  error,
  h('button', { type: 'submit' }, 'Sign in'));
  replace(main, form);
  key.focus();
}

// ---- live view ---------------------------------------------------------------------------------------
// Scans as they happen, from the gateway's event stream: a per-second rate over the last minute, a pulse on the map
// where each recent scan came from, and counters. The stream is closed when the page is left.
function livePanel(url, onTotal) {
  const rate = h('span', { id: 'live-rate', text: '0' });
  const count = h('span', { id: 'live-count', text: '0' });
  const state = h('span', { class: 'muted small', id: 'live-state', text: 'Connecting…' });
  const latest = h('p', { class: 'small muted', id: 'live-latest' });
  const rateFig = chartFigure('live-rate', 'Scans per second, last minute');
  const mapFig = chartFigure('live-map', 'Where the latest scans come from', 'map');
  const el = h('section', { class: 'card live', 'aria-labelledby': 'live-title', dataset: { liveScans: '0' } },
    h('h2', { id: 'live-title', text: 'Live' }),
    h('p', {}, h('strong', {}, rate), ' scans/s · ', h('strong', {}, count), ' since this page opened ', state),
    latest,
    h('div', { class: 'charts' }, rateFig.figure, mapFig.figure));
  const points = [];
  const pulses = [];
  let source = null;
  const redraw = () => {
    const cutoff = Date.now() - 60_000;
    while (points.length && points[0][0] < cutoff) points.shift();
    draw(rateFig, Charts.liveRate(points));
    ensureWorldMap().then(() => draw(mapFig, Charts.livePulse(pulses.map((p) => ({ name: p.name, value: [p.lon, p.lat] }))))).catch(() => {});
  };
  const start = () => {
    source = new EventSource(url, { withCredentials: true });
    source.addEventListener('hello', (e) => {
      const d = JSON.parse(e.data);
      state.textContent = '(live)';
      if (typeof d.total === 'number' && onTotal) onTotal(d.total);
      redraw();
    });
    source.addEventListener('scans', (e) => {
      const d = JSON.parse(e.data);
      rate.textContent = fmt(d.rate);
      count.textContent = fmt(d.sinceOpen);
      el.dataset.liveScans = String(d.sinceOpen);
      if (typeof d.total === 'number' && onTotal) onTotal(d.total);
      points.push([Date.now(), d.rate]);
      for (const s of d.recent) {
        if (typeof s.latitude === 'number' && typeof s.longitude === 'number') {
          pulses.push({ name: [s.city, s.country ? countryName(s.country) : null].filter(Boolean).join(', ') || s.code, lat: s.latitude, lon: s.longitude });
          if (pulses.length > 30) pulses.shift();
        }
      }
      const last = d.recent[d.recent.length - 1];
      if (last) latest.textContent = `Latest: ${last.code}${last.country ? ` from ${[last.city, countryName(last.country)].filter(Boolean).join(', ')}` : ''} at ${new Date(last.at).toLocaleTimeString()}`;
      redraw();
    });
    source.addEventListener('end', () => { state.textContent = '(ended: sign in again)'; source.close(); });
    source.onerror = () => {
      // Closed for good (e.g. 429: too many open streams) or reconnecting on its own.
      state.textContent = source.readyState === EventSource.CLOSED ? '(unavailable: too many live views open, or signed out)' : '(reconnecting…)';
    };
  };
  // The charts follow the page's width (a phone turned, a window narrowed), as the code page's do.
  const onResize = () => [rateFig, mapFig].forEach((f) => f.chart && f.chart.resize());
  window.addEventListener('resize', onResize);
  const stop = () => {
    window.removeEventListener('resize', onResize);
    if (source) source.close();
    [rateFig, mapFig].forEach((f) => f.chart && f.chart.dispose());
  };
  teardown.push(stop);
  return { el, start };
}

// ---- list of codes + account summary ----------------------------------------------------------------
async function listPage() {
  setTitle('Your codes');
  const summary = h('section', { class: 'summary', 'aria-labelledby': 'summary-title' }, h('h2', { id: 'summary-title', text: 'Last 30 days, all codes' }), h('p', { class: 'muted', text: 'Loading…' }));
  const list = h('ul', { class: 'codes', id: 'code-list' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const search = h('input', { id: 'search', type: 'search', name: 'q', maxlength: '200' });
  let cursor = null;

  const load = async (append) => {
    const params = { limit: '20' };
    if (search.value.trim()) params.q = search.value.trim();
    if (append && cursor) params.cursor = cursor;
    const page = await Api.listCodes(params);
    if (!append) list.replaceChildren();
    if (!append && page.items.length === 0) list.append(h('li', { class: 'muted', text: search.value ? 'No code matches.' : 'No codes yet: create your first one.' }));
    const rows = page.items.map((c) => codeCard(c));
    list.append(...rows.map((r) => r.el));
    cursor = page.nextCursor;
    more.hidden = !cursor;
    // The list carries no totals; each visible code's details do.
    await Promise.all(rows.map(async (r) => {
      try { r.setTotal((await Api.getCode(r.code)).totalScans); } catch { r.setTotal(null); }
    }));
  };
  more.addEventListener('click', () => load(true));
  const live = livePanel(Api.accountLiveUrl());

  replace(main,
    h('div', { class: 'page-head' }, h('h1', { text: 'Your codes' }), h('a', { class: 'button', href: '#/new' }, 'Create a code')),
    summary,
    live.el,
    h('form', { class: 'search', role: 'search', onsubmit: (e) => { e.preventDefault(); load(false); } },
      h('label', { for: 'search', text: 'Search codes' }), h('div', { class: 'row' }, search, h('button', { type: 'submit', class: 'secondary' }, 'Search'))),
    list, more);

  const showSummary = async () => {
    const stats = await Api.accountStats({ tz: timeZone() });
    const t = stats.totals;
    replace(summary, h('h2', { id: 'summary-title', text: 'Last 30 days, all codes' }),
      totalsList([['Scans', t.scans], ['Humans', t.humans], ['Bots', t.bots], ['Unique visitors', t.unique]]),
      stats.topCodes && stats.topCodes.length
        ? h('p', { class: 'muted small' }, 'Most scanned: ', stats.topCodes.slice(0, 3).map((c, i) => [i ? ', ' : '', h('a', { href: `#/codes/${encodeURIComponent(c.code)}`, text: c.code }), ` (${fmt(c.scans)})`]))
        : null);
  };
  live.start();
  await Promise.all([load(false), showSummary().catch((e) => replace(summary, h('p', { class: 'error', text: e.message })))]);
}

function codeCard(c) {
  const total = h('span', { class: 'total', text: '…' });
  const href = `#/codes/${encodeURIComponent(c.code)}`;
  const el = h('li', { class: 'card code', dataset: { code: c.code } },
    h('div', { class: 'code-main' },
      h('h2', { class: 'code-title' }, h('a', { href, text: c.title || c.code })),
      h('p', { class: 'mono small' }, h('span', { text: c.shortUrl }), ' → ', h('span', { class: 'target', text: c.targetUrl })),
      h('p', { class: 'small' }, statusBadge(c.status), (c.tags || []).map((t) => h('span', { class: 'tag', text: t })))),
    h('div', { class: 'code-side' }, h('span', { class: 'muted small', text: 'Total scans' }), total));
  return { el, code: c.code, setTotal: (n) => { total.textContent = n === null ? '–' : fmt(n); } };
}

function statusBadge(status) {
  return h('span', { class: `badge ${status}`, text: status });
}

function totalsList(pairs) {
  return h('dl', { class: 'totals' }, pairs.map(([label, value]) => h('div', {}, h('dt', { text: label }), h('dd', { text: fmt(value) }))));
}

// ---- create / edit ------------------------------------------------------------------------------------
async function editPage(code) {
  const existing = code ? await Api.getCode(code) : null;
  setTitle(existing ? `Edit ${code}` : 'Create a code');
  const field = (id, label, input, help) => h('div', { class: 'field' },
    h('label', { for: id, text: label }), input, help ? h('p', { class: 'muted small', id: `${id}-help`, text: help }) : null);
  const input = (id, props) => h('input', { id, name: id, ...props, 'aria-describedby': props.help ? `${id}-help` : null });
  const target = input('targetUrl', { type: 'url', required: true, value: existing?.targetUrl ?? '', placeholder: 'https://example.org/landing' });
  const slug = input('code', { type: 'text', pattern: '[A-Za-z0-9_\\-]{3,64}', value: '', help: true, autocomplete: 'off' });
  const title = input('title', { type: 'text', maxlength: '200', value: existing?.title ?? '' });
  const tags = input('tags', { type: 'text', value: (existing?.tags ?? []).join(', '), help: true });
  const expires = input('expiresAt', { type: 'datetime-local', value: existing?.expiresAt ? toLocalInput(existing.expiresAt) : '', help: true });
  const maxScans = input('maxScans', { type: 'number', min: '1', step: '1', value: existing?.maxScans ?? '', help: true });
  const enabled = h('input', { id: 'enabled', name: 'enabled', type: 'checkbox', checked: existing ? existing.status !== 'disabled' : null });
  const routingText = existing?.routing ? JSON.stringify(withoutNulls(existing.routing), null, 2) : '';
  const routing = h('textarea', { id: 'routing', name: 'routing', rows: '10', class: 'mono', spellcheck: 'false', 'aria-describedby': 'routing-help' });
  routing.value = routingText;
  const error = h('p', { class: 'error', role: 'alert' });
  const notice = h('p', { class: 'notice', role: 'status', id: 'routing-warnings', hidden: true });
  const readRouting = () => {
    const text = routing.value.trim();
    if (!text) return null;
    try { return JSON.parse(text); } catch (err) { throw new Error(`Routing rules: not valid JSON (${err.message}).`); }
  };

  const form = h('form', { class: 'card form', novalidate: false, onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = '';
    const tagList = tags.value.split(',').map((t) => t.trim()).filter(Boolean);
    const expiresAt = expires.value ? new Date(expires.value).toISOString() : null;
    const max = maxScans.value ? Number(maxScans.value) : null;
    try {
      if (!existing) {
        const body = { targetUrl: target.value.trim(), title: title.value.trim() || null, tags: tagList, expiresAt, maxScans: max };
        if (slug.value.trim()) body.code = slug.value.trim();
        const rules = readRouting();
        if (rules) body.routing = rules;
        const created = await Api.createCode(body);
        announce(`Created ${created.code}.`);
        if (showWarnings(created)) { go(`#/codes/${encodeURIComponent(created.code)}/edit`); return; }
        go(`#/codes/${encodeURIComponent(created.code)}`);
      } else {
        // Only what changed: an untouched past expiry must not be sent back (the API refuses past expiries).
        const body = {};
        if (target.value.trim() !== existing.targetUrl) body.targetUrl = target.value.trim();
        if (title.value.trim() !== (existing.title ?? '')) body.title = title.value.trim();
        if (tagList.join('\n') !== (existing.tags ?? []).join('\n')) body.tags = tagList;
        if (enabled.checked !== (existing.status !== 'disabled')) body.enabled = enabled.checked;
        if (expires.value !== (existing.expiresAt ? toLocalInput(existing.expiresAt) : '')) body.expiresAt = expiresAt;
        if (max !== (existing.maxScans ?? null)) body.maxScans = max;
        if (routing.value.trim() !== routingText.trim()) body.routing = readRouting();
        const saved = await Api.updateCode(code, body);
        announce('Saved.');
        if (showWarnings(saved)) return;
        go(`#/codes/${encodeURIComponent(code)}`);
      }
    } catch (err) {
      error.textContent = err.message;
    }
  } },
  h('h1', { text: existing ? `Edit ${code}` : 'Create a code' }),
  field('targetUrl', 'Target URL', target),
  existing ? null : field('code', 'Custom short code (optional)', slug, '3–64 letters, digits, “-” or “_”. Leave empty for a random code.'),
  field('title', 'Title (optional)', title),
  field('tags', 'Tags (optional)', tags, 'Separated by commas.'),
  field('expiresAt', 'Expires at (optional)', expires, 'Your local time. Empty: never.'),
  field('maxScans', 'Maximum scans (optional)', maxScans, 'The code stops redirecting after this many scans.'),
  existing ? h('div', { class: 'field check' }, enabled, h('label', { for: 'enabled', text: 'Enabled (redirects scans)' })) : null,
  field('routing', 'Routing rules (optional, JSON)', routing,
    'Rules tried in order, first match wins, else the target above. Example: {"timeZone":"Europe/Paris","rules":[{"id":"ios","when":{"os":["ios"]},"target":"https://apps.apple.com/…"},'
    + '{"id":"ab","split":[{"id":"a","target":"https://example.org/a","weight":50},{"id":"b","target":"https://example.org/b","weight":50}]}],'
    + '"schedule":[{"at":"2026-12-01T00:00:00+01:00","target":"https://example.org/winter"}],"utm":{"source":"poster","medium":"qr"},"passQuery":true,"fallbackUrl":"https://example.org/ended"}. '
    + 'Conditions: device (mobile, tablet, desktop), os (ios, android, windows, macos, linux, chromeos), country (FR), language (fr), time {days, from, to, startDate, endDate, timeZone}.'),
  existing ? routingPreview(code, readRouting, () => target.value.trim()) : null,
  notice,
  error,
  h('div', { class: 'row' },
    h('button', { type: 'submit' }, existing ? 'Save' : 'Create'),
    h('a', { class: 'button secondary', href: existing ? `#/codes/${encodeURIComponent(code)}` : '#/' }, 'Cancel')));
  replace(main, form);
  target.focus();

  // Saved, but parts of the routing can never match: say so and stay on the form.
  function showWarnings(answer) {
    const warnings = answer?.routingWarnings ?? [];
    notice.hidden = warnings.length === 0;
    notice.textContent = warnings.length ? `Saved. Never matches: ${warnings.map((w) => w.message).join(' ')}` : '';
    return warnings.length > 0;
  }
}

/** "A scan from an iPhone in France at 21:00 would go to …", computed by the gateway with the grain's own function. */
function routingPreview(code, readRouting, readTarget) {
  const select = (id, values) => h('select', { id, name: id }, ['', ...values].map((v) => h('option', { value: v, text: v || 'any' })));
  const device = select('preview-device', ['mobile', 'tablet', 'desktop']);
  const os = select('preview-os', ['ios', 'android', 'windows', 'macos', 'linux', 'chromeos']);
  const country = h('input', { id: 'preview-country', type: 'text', maxlength: '2', size: '3', placeholder: 'FR', autocomplete: 'off' });
  const language = h('input', { id: 'preview-language', type: 'text', maxlength: '35', size: '8', placeholder: 'fr', autocomplete: 'off' });
  const at = h('input', { id: 'preview-at', type: 'datetime-local', value: toLocalInput(new Date().toISOString()) });
  const result = h('p', { id: 'preview-result', role: 'status' });
  const small = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id, text: label }), input);
  const run = async () => {
    result.textContent = '…';
    result.className = '';
    try {
      const body = { at: at.value ? new Date(at.value).toISOString() : undefined, routing: readRouting() ?? {}, targetUrl: readTarget() };
      if (device.value) body.device = device.value;
      if (os.value) body.os = os.value;
      if (country.value.trim()) body.country = country.value.trim();
      if (language.value.trim()) body.language = language.value.trim();
      const answer = await Api.previewRouting(code, body);
      const who = [device.value || 'any device', os.value, country.value.trim().toUpperCase(), language.value.trim()].filter(Boolean).join(', ');
      const split = answer.split ? ` (A/B: ${answer.split.map((v) => `${v.route} ${Math.round(v.share * 100)}%`).join(', ')})` : '';
      replace(result, `A scan from ${who} at ${new Date(answer.at).toLocaleString()} would go to `,
        h('span', { class: 'mono', id: 'preview-target', text: answer.target }), ` by rule “${answer.route}”${split}.`);
    } catch (err) {
      result.className = 'error';
      result.textContent = err.message;
    }
  };
  return h('fieldset', { class: 'preview' }, h('legend', { text: 'Preview a scan' }),
    h('div', { class: 'period-fields' }, small('preview-device', 'Device', device), small('preview-os', 'OS', os),
      small('preview-country', 'Country', country), small('preview-language', 'Language', language), small('preview-at', 'Time (yours)', at)),
    h('button', { type: 'button', class: 'secondary', onclick: run }, 'Preview'), result);
}

function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== false).map(([k, v]) => [k, withoutNulls(v)]));
  }
  return value;
}

function toLocalInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// ---- one code: details and stats --------------------------------------------------------------------
function timeZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}

function isoDate(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

async function codePage(code) {
  const details = await Api.getCode(code);
  setTitle(details.title || details.code);
  const today = new Date();
  const from = h('input', { id: 'from', type: 'date', required: true, value: isoDate(new Date(today.getTime() - 29 * 86400000)) });
  const to = h('input', { id: 'to', type: 'date', required: true, value: isoDate(today) });
  const tz = h('input', { id: 'tz', type: 'text', required: true, value: timeZone(), autocomplete: 'off', spellcheck: 'false' });
  const granularity = h('select', { id: 'granularity' }, ['hour', 'day', 'week', 'month'].map((g) => h('option', { value: g, selected: g === 'day' ? true : null, text: g })));
  const periodError = h('p', { class: 'error', role: 'alert' });
  const auto = h('input', { id: 'auto-refresh', type: 'checkbox', checked: true });
  const updated = h('span', { class: 'muted small', id: 'updated' });
  const head = h('div', { class: 'code-head' });
  const totals = h('div', { id: 'totals' });

  const figures = {
    series: chartFigure('series', 'Scans over time', 'tall'),
    map: chartFigure('map', 'Where scans come from', 'map'),
    devices: chartFigure('devices', 'Device types'),
    os: chartFigure('os', 'Operating systems'),
    browsers: chartFigure('browsers', 'Browsers'),
    peak: chartFigure('peak', 'Peak hours (hour of day × weekday, your time zone)', 'tall'),
    routes: chartFigure('routes', 'Routing: scans per rule and A/B variant'),
  };

  const refreshButton = h('button', { type: 'button', class: 'secondary', id: 'refresh' }, 'Refresh');
  // The raw scans of the chosen days, scan times in the chosen zone; follows the fields as they change.
  const csv = h('a', { class: 'button secondary', id: 'download-csv', download: `${code}-scans.csv` }, 'Download CSV');
  const syncCsv = () => {
    csv.href = Api.scansCsvUrl(code, { from: from.value, to: to.value, tz: tz.value.trim() || 'UTC' });
    csv.download = `${code}-scans-${from.value}-${to.value}.csv`;
  };
  [from, to, tz].forEach((el) => el.addEventListener('input', syncCsv));
  syncCsv();
  const dialog = deleteDialog(code);

  const renderHead = (d) => {
    const href = safeHref(d.targetUrl);
    replace(head,
      h('h1', { id: 'code-title', text: d.title || d.code }),
      h('p', {}, statusBadge(d.status), (d.tags || []).map((t) => h('span', { class: 'tag', text: t }))),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', { text: 'Short URL' }), h('dd', { class: 'mono', text: d.shortUrl })),
        h('div', {}, h('dt', { text: 'Target' }), h('dd', { class: 'mono' }, href ? h('a', { href, rel: 'noopener noreferrer', target: '_blank', text: d.targetUrl }) : d.targetUrl)),
        h('div', {}, h('dt', { text: 'All-time scans' }), h('dd', { id: 'all-time', text: fmt(d.totalScans) })),
        d.expiresAt ? h('div', {}, h('dt', { text: 'Expires' }), h('dd', { text: new Date(d.expiresAt).toLocaleString() })) : null,
        d.maxScans ? h('div', {}, h('dt', { text: 'Scan budget' }), h('dd', { text: fmt(d.maxScans) })) : null));
  };
  renderHead(details);
  const live = livePanel(Api.codeLiveUrl(code), (total) => {
    const allTime = document.getElementById('all-time');
    if (allTime) allTime.textContent = fmt(total);
  });

  replace(main,
    h('p', {}, h('a', { href: '#/', text: '← Your codes' })),
    h('div', { class: 'code-layout' },
      head,
      h('div', { class: 'qr card' },
        h('img', { src: Api.qrUrl(code, 'svg'), alt: `QR code for ${details.shortUrl}`, width: '160', height: '160' }),
        h('div', { class: 'row' },
          h('a', { class: 'button secondary', href: Api.qrUrl(code, 'png', true), download: `${code}.png` }, 'PNG'),
          h('a', { class: 'button secondary', href: Api.qrUrl(code, 'svg', true), download: `${code}.svg` }, 'SVG')))),
    h('div', { class: 'row actions' },
      h('a', { class: 'button secondary', href: `#/codes/${encodeURIComponent(code)}/edit` }, 'Edit'),
      h('button', { type: 'button', class: 'danger', onclick: () => dialog.showModal() }, 'Delete')),
    dialog,
    live.el,
    h('form', { class: 'card period', 'aria-labelledby': 'period-title', onsubmit: (e) => { e.preventDefault(); refresh(); } },
      h('h2', { id: 'period-title', text: 'Period' }),
      h('div', { class: 'period-fields' },
        h('div', { class: 'field' }, h('label', { for: 'from', text: 'From' }), from),
        h('div', { class: 'field' }, h('label', { for: 'to', text: 'To (included)' }), to),
        h('div', { class: 'field' }, h('label', { for: 'tz', text: 'Time zone' }), tz),
        h('div', { class: 'field' }, h('label', { for: 'granularity', text: 'Group by' }), granularity)),
      periodError,
      h('div', { class: 'row' },
        h('button', { type: 'submit' }, 'Apply'),
        refreshButton,
        csv,
        h('span', { class: 'check' }, auto, h('label', { for: 'auto-refresh', text: 'Refresh every 10 s' })),
        updated)),
    h('section', { 'aria-labelledby': 'totals-title' }, h('h2', { id: 'totals-title', text: 'Totals in the period' }), totals),
    h('div', { class: 'charts' }, Object.values(figures).map((f) => f.figure)));

  const onResize = () => Object.values(figures).forEach((f) => f.chart && f.chart.resize());
  window.addEventListener('resize', onResize);
  teardown.push(() => window.removeEventListener('resize', onResize));
  teardown.push(() => Object.values(figures).forEach((f) => f.chart && f.chart.dispose()));

  // "hour" only for periods of up to 31 days (the API's limit).
  const syncGranularity = () => {
    const days = (Date.parse(to.value) - Date.parse(from.value)) / 86400000 + 1;
    const hour = granularity.querySelector('option[value=hour]');
    hour.disabled = !(days <= 31);
    if (hour.disabled && granularity.value === 'hour') granularity.value = 'day';
  };
  from.addEventListener('change', syncGranularity);
  to.addEventListener('change', syncGranularity);
  syncGranularity();

  let busy = false;
  const refresh = async () => {
    if (busy) return;
    busy = true;
    refreshButton.disabled = true;
    try {
      const period = { from: from.value, to: to.value, tz: tz.value.trim() || 'UTC', granularity: granularity.value };
      const [d, stats] = await Promise.all([Api.getCode(code), Api.codeStats(code, period)]);
      periodError.textContent = '';
      renderHead(d);
      await renderStats(stats, figures, totals);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      main.dataset.scans = String(stats.totals.scans);
    } catch (err) {
      if (err.status === 404) { go('#/'); return; }
      periodError.textContent = err.message;
    } finally {
      busy = false;
      refreshButton.disabled = false;
    }
  };
  refreshButton.addEventListener('click', refresh);
  const timer = setInterval(() => { if (auto.checked && document.visibilityState === 'visible') refresh(); }, REFRESH_MS);
  teardown.push(() => clearInterval(timer));
  live.start();
  await refresh();
}

// ---- API keys ---------------------------------------------------------------------------------------
/** A new key's secret, shown once with a copy button; the API never returns it again. */
function secretNotice(id, label, secret) {
  const value = h('input', { id, type: 'text', readonly: true, value: secret, class: 'mono', spellcheck: 'false', 'aria-describedby': `${id}-help` });
  return h('div', { class: 'notice', role: 'status' },
    h('label', { for: id, text: label }),
    h('div', { class: 'row' }, value, h('button', { type: 'button', class: 'secondary', onclick: async () => {
      value.select();
      try { await navigator.clipboard.writeText(secret); announce('Copied.'); } catch { announce('Select the key and copy it.'); }
    } }, 'Copy')),
    h('p', { class: 'muted small', id: `${id}-help`, text: 'Copy it now: it is shown only this once.' }));
}

async function keysPage() {
  setTitle('API keys');
  const list = h('div', { id: 'key-list' });
  const created = h('div', { id: 'key-created' });
  const error = h('p', { class: 'error', role: 'alert' });
  const name = h('input', { id: 'key-name', name: 'name', type: 'text', maxlength: '200', required: true, autocomplete: 'off' });

  const load = async () => {
    const keys = await Api.listKeys();
    replace(list, keys.length === 0 ? h('p', { class: 'muted', text: 'No keys.' }) : h('table', {},
      h('thead', {}, h('tr', {}, ['Name', 'Starts with', 'Created', 'Status', ''].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, keys.map((k) => h('tr', { dataset: { keyId: String(k.id) } },
        h('td', { text: k.name || '(no name)' }),
        h('td', { class: 'mono', text: `${k.prefix}…` }),
        h('td', { text: new Date(k.createdAt).toLocaleString() }),
        h('td', { text: k.revokedAt ? `revoked ${new Date(k.revokedAt).toLocaleString()}` : (k.id === me.keyId ? 'active (this session)' : 'active') }),
        h('td', {}, k.revokedAt ? null : h('button', { type: 'button', class: 'danger', onclick: async () => {
          if (!window.confirm(`Revoke the key “${k.name || k.prefix}”? Whatever uses it stops working.`)) return;
          try {
            await Api.revokeKey(k.id);
            announce('Key revoked.');
            await load();
          } catch (err) {
            error.textContent = err.message;
          }
        } }, 'Revoke')))))));
  };

  replace(main,
    h('p', {}, h('a', { href: '#/', text: '← Your codes' })),
    h('h1', { text: 'API keys' }),
    h('form', { class: 'card form', onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      try {
        const key = await Api.createKey(name.value.trim());
        name.value = '';
        replace(created, secretNotice('new-key', `New key “${key.name}”`, key.key));
        announce('Key created.');
        await load();
      } catch (err) {
        error.textContent = err.message;
      }
    } },
    h('h2', { text: 'Create a key' }),
    h('div', { class: 'field' }, h('label', { for: 'key-name', text: 'Name (what will use it)' }), name),
    error,
    h('button', { type: 'submit' }, 'Create key')),
    created,
    h('section', { class: 'card' }, h('h2', { text: 'Your keys' }), list));
  await load();
}

// ---- bulk: CSV import, ZIP of a tag's QR images ---------------------------------------------------------
async function bulkPage() {
  setTitle('Bulk');
  const file = h('input', { id: 'bulk-file', name: 'file', type: 'file', accept: '.csv,text/csv', required: true });
  const mode = h('select', { id: 'bulk-mode', name: 'mode' },
    h('option', { value: 'atomic', text: 'All or nothing: create nothing if any row is refused' }),
    h('option', { value: 'best-effort', text: 'Best effort: create the valid rows' }));
  const error = h('p', { class: 'error', role: 'alert', id: 'bulk-error' });
  const report = h('div', { id: 'bulk-report' });
  const submit = h('button', { type: 'submit' }, 'Import');
  const tag = h('input', { id: 'zip-tag', name: 'tag', type: 'text', maxlength: '40', required: true, autocomplete: 'off' });
  const format = h('select', { id: 'zip-format', name: 'format' }, h('option', { value: 'png', text: 'PNG' }), h('option', { value: 'svg', text: 'SVG' }));
  const download = h('a', { id: 'zip-download', class: 'button', href: '#/bulk', 'aria-disabled': 'true' }, 'Download ZIP');
  const syncZip = () => {
    const ready = tag.value.trim().length > 0;
    download.setAttribute('href', ready ? Api.bulkZipUrl(tag.value.trim(), format.value) : '#/bulk');
    download.setAttribute('aria-disabled', String(!ready));
  };
  [tag, format].forEach((el) => el.addEventListener('input', syncZip));

  const showReport = (r) => {
    const outcome = r.committed
      ? `${fmt(r.created)} of ${fmt(r.rows)} rows created${r.refused ? `, ${fmt(r.refused)} refused` : ''}.`
      : `Nothing was created: ${fmt(r.refused)} of ${fmt(r.rows)} rows were refused.`;
    replace(report, h('section', { class: 'card' },
      h('h2', { text: 'Report' }),
      h('p', { id: 'bulk-outcome', class: r.committed ? 'notice' : 'error', text: outcome }),
      r.errors.length ? table(['Row', 'Column', 'Why'], r.errors.map((e) => [String(e.row), e.field ?? '(row)', e.message])) : null,
      r.codes.length ? h('details', {}, h('summary', { text: `Created codes (${fmt(r.codes.length)})` }),
        h('ul', {}, r.codes.slice(0, 500).map((c) => h('li', {}, h('a', { href: `#/codes/${encodeURIComponent(c.code)}`, text: c.code }), ` ${c.shortUrl}`)))) : null));
  };

  replace(main,
    h('p', {}, h('a', { href: '#/', text: '← Your codes' })),
    h('h1', { text: 'Bulk' }),
    h('form', { class: 'card form', onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      replace(report);
      if (!file.files.length) return;
      submit.disabled = true;
      try {
        const r = await Api.importCodes(file.files[0], mode.value);
        showReport(r);
        announce(r.committed ? `${r.created} codes created.` : 'Nothing was created.');
      } catch (err) {
        error.textContent = err.message;
      } finally {
        submit.disabled = false;
      }
    } },
    h('h2', { text: 'Create codes from a CSV file' }),
    h('p', { class: 'muted small', id: 'bulk-help', text: 'UTF-8, up to 10,000 rows and 8 MB. Header: target (required), slug, title, tags (separated by |), routing (JSON as in the API).' }),
    h('div', { class: 'field' }, h('label', { for: 'bulk-file', text: 'CSV file' }), file),
    h('div', { class: 'field' }, h('label', { for: 'bulk-mode', text: 'Mode' }), mode),
    error,
    submit),
    report,
    h('section', { class: 'card form' },
      h('h2', { text: 'QR images of a tag' }),
      h('div', { class: 'field' }, h('label', { for: 'zip-tag', text: 'Tag' }), tag),
      h('div', { class: 'field' }, h('label', { for: 'zip-format', text: 'Format' }), format),
      h('p', { class: 'muted small', text: 'A ZIP with one image per code, named after the code.' }),
      download));
}

// ---- owners (admins) --------------------------------------------------------------------------------
async function ownersPage() {
  setTitle('Owners');
  if (me.role !== 'admin') {
    replace(main, h('h1', { text: 'Owners' }), h('p', { text: 'Only admins manage owners.' }));
    return;
  }
  const list = h('tbody', { id: 'owner-list' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const created = h('div', { id: 'owner-created' });
  const error = h('p', { class: 'error', role: 'alert' });
  const name = h('input', { id: 'owner-name-input', name: 'name', type: 'text', maxlength: '200', required: true, autocomplete: 'off' });
  const role = h('select', { id: 'owner-role', name: 'role' }, h('option', { value: 'owner', text: 'owner' }), h('option', { value: 'admin', text: 'admin' }));
  let next = null;

  const row = (o) => h('tr', { dataset: { ownerId: String(o.id) } },
    h('td', { text: o.name }), h('td', { text: o.role }), h('td', { text: new Date(o.createdAt).toLocaleString() }),
    h('td', {}, o.id === me.ownerId ? h('span', { class: 'muted small', text: 'you' }) : h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (!window.confirm(`Erase “${o.name}”: all its codes, their scans and statistics, and its keys? This cannot be undone.`)) return;
      try {
        await Api.deleteOwner(o.id);
        announce(`Erased ${o.name}.`);
        await load(false);
      } catch (err) {
        error.textContent = err.message;
      }
    } }, 'Delete')));

  const load = async (append) => {
    const params = { limit: '50' };
    if (append && next !== null) params.after = String(next);
    const page = await Api.listOwners(params);
    if (!append) list.replaceChildren();
    list.append(...page.items.map(row));
    next = page.next;
    more.hidden = next === null;
  };
  more.addEventListener('click', () => load(true).catch((err) => { error.textContent = err.message; }));

  replace(main,
    h('p', {}, h('a', { href: '#/', text: '← Your codes' })),
    h('h1', { text: 'Owners' }),
    h('form', { class: 'card form', onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      try {
        const owner = await Api.createOwner({ name: name.value.trim(), role: role.value });
        name.value = '';
        replace(created, secretNotice('new-owner-key', `First API key of “${owner.name}”: give it to them`, owner.apiKey.key));
        announce(`Created ${owner.name}.`);
        await load(false);
      } catch (err) {
        error.textContent = err.message;
      }
    } },
    h('h2', { text: 'Create an owner' }),
    h('div', { class: 'field' }, h('label', { for: 'owner-name-input', text: 'Name' }), name),
    h('div', { class: 'field' }, h('label', { for: 'owner-role', text: 'Role' }), role),
    error,
    h('button', { type: 'submit' }, 'Create owner')),
    created,
    h('section', { class: 'card' }, h('h2', { text: 'All owners' }),
      h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'Role', 'Created', ''].map((t) => h('th', { scope: 'col', text: t })))), list),
      more));
  await load(false);
}

function deleteDialog(code) {
  const dialog = h('dialog', { 'aria-labelledby': 'delete-title', class: 'card' });
  const error = h('p', { class: 'error', role: 'alert' });
  replace(dialog,
    h('h2', { id: 'delete-title', text: `Delete ${code}?` }),
    h('p', { text: 'The code and all its scans are deleted; its short URL stops working. This cannot be undone.' }),
    error,
    h('form', { method: 'dialog', class: 'row' },
      h('button', { type: 'submit', class: 'secondary', value: 'cancel', autofocus: true }, 'Cancel'),
      h('button', { type: 'button', class: 'danger', onclick: async () => {
        try {
          await Api.deleteCode(code);
          dialog.close();
          announce(`Deleted ${code}.`);
          go('#/');
        } catch (err) {
          error.textContent = err.message;
        }
      } }, 'Delete')));
  return dialog;
}

function chartFigure(key, caption, size) {
  const box = h('div', { class: `chart ${size ?? ''}`, dataset: { chart: key }, role: 'img', 'aria-label': caption });
  const summary = h('p', { class: 'small muted', dataset: { summary: key } });
  const table = h('div', { class: 'table-wrap' });
  const figure = h('figure', { class: `card figure ${key}` },
    h('figcaption', {}, h('h3', { text: caption }), summary),
    box,
    h('details', {}, h('summary', { text: 'Show as a table' }), table));
  return { figure, box, summary, table, chart: null };
}

function table(headers, rows) {
  return h('table', {}, h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((c) => h('td', { text: typeof c === 'number' ? fmt(c) : c })))) : h('tr', {}, h('td', { colspan: String(headers.length), text: 'No scans' }))));
}

let worldMap = null;
async function ensureWorldMap() {
  if (!worldMap) {
    worldMap = fetch('/app/vendor/world.json', { credentials: 'same-origin' }).then((r) => {
      if (!r.ok) throw new Error('world map data missing');
      return r.json();
    }).then((geo) => { window.echarts.registerMap('world', geo); return true; });
  }
  return worldMap;
}

function draw(figure, option) {
  if (!window.echarts) return;
  if (!figure.chart) figure.chart = window.echarts.init(figure.box, null, { renderer: 'canvas' });
  figure.chart.setOption(option, { notMerge: true, lazyUpdate: false });
}

async function renderStats(stats, f, totals) {
  const t = stats.totals;
  replace(totals, totalsList([['Scans', t.scans], ['Humans', t.humans], ['Bots', t.bots], ['Throttled', t.throttled], ['Unique visitors', t.unique]]));

  draw(f.series, Charts.timeSeries(stats));
  const busiest = stats.series.reduce((best, b) => (b.scans > (best?.scans ?? 0) ? b : best), null);
  f.series.summary.textContent = `${fmt(t.scans)} scans by ${stats.granularity} in ${stats.tz}` + (busiest ? `; busiest: ${Charts.bucketLabel(busiest.start, stats.granularity)} (${fmt(busiest.scans)}).` : '.');
  replace(f.series.table, table([stats.granularity, 'Scans', 'Humans', 'Bots', 'Throttled'],
    stats.series.filter((b) => b.scans > 0).map((b) => [Charts.bucketLabel(b.start, stats.granularity), b.scans, b.humans, b.bots, b.throttled])));

  try {
    await ensureWorldMap();
    draw(f.map, Charts.worldMap(stats));
  } catch (err) {
    f.map.box.textContent = `The map cannot be shown: ${err.message}.`;
  }
  const known = stats.countries.filter((c) => c.country !== 'unknown');
  f.map.summary.textContent = known.length
    ? `${known.length} ${known.length === 1 ? 'country' : 'countries'}; most scans from ${known.slice(0, 3).map((c) => `${countryName(c.country)} (${fmt(c.scans)})`).join(', ')}.`
    : 'No located scans in this period.';
  replace(f.map.table, table(['Country', 'Scans'], stats.countries.map((c) => [countryName(c.country), c.scans])),
    table(['City', 'Country', 'Scans'], stats.cities.map((c) => [c.city, countryName(c.country), c.scans])));

  for (const [key, rows, kind] of [['devices', stats.devices, 'pie'], ['os', stats.os, 'bars'], ['browsers', stats.browsers, 'bars']]) {
    draw(f[key], kind === 'pie' ? Charts.pie(key, rows) : Charts.bars(key, rows));
    f[key].summary.textContent = rows.length ? rows.slice(0, 3).map((r) => `${r.name}: ${fmt(r.scans)}`).join(', ') : 'No scans in this period.';
    replace(f[key].table, table(['Name', 'Scans'], rows.map((r) => [r.name, r.scans])));
  }

  renderRoutes(stats.routes ?? [], f.routes);

  draw(f.peak, Charts.heatMap(stats));
  let peak = null;
  stats.peakHours.forEach((hours, day) => hours.forEach((n, hour) => { if (n > 0 && (!peak || n > peak.n)) peak = { day, hour, n }; }));
  f.peak.summary.textContent = peak ? `Busiest: ${Charts.DAYS[peak.day]} ${String(peak.hour).padStart(2, '0')}:00 (${fmt(peak.n)} scans).` : 'No scans in this period.';
  replace(f.peak.table, table(['Weekday', ...[...Array(24).keys()].map((x) => String(x).padStart(2, '0'))],
    stats.peakHours.map((hours, day) => [Charts.DAYS[day], ...hours])));
}

// Counts and share per rule and variant, and for each A/B split a plain note on how sure its shares are.
function renderRoutes(routes, figure) {
  figure.figure.hidden = routes.length === 0;
  if (!routes.length) return;
  draw(figure, Charts.bars('routes', routes.map((r) => ({ name: r.route, scans: r.scans }))));
  const pct = (x) => `${(x * 100).toFixed(1)} %`;
  const splits = [...new Set(routes.filter((r) => r.variant).map((r) => r.rule))];
  figure.summary.textContent = splits.length
    ? splits.map((rule) => {
      const variants = routes.filter((r) => r.rule === rule).sort((x, y) => x.variant.localeCompare(y.variant));
      const n = variants.reduce((s, v) => s + v.scans, 0);
      const shares = variants.map((v) => `${v.variant} ${pct(v.share)} ± ${pct(v.margin95)}`).join(', ');
      const sure = n < 100 ? 'too few scans yet to compare' : 'differences smaller than the ± margins (95 %) may be chance';
      return `Split ${rule}: ${shares} of ${fmt(n)} scans; ${sure}.`;
    }).join(' ')
    : routes.slice(0, 3).map((r) => `${r.route}: ${fmt(r.scans)} (${pct(r.share)})`).join(', ');
  replace(figure.table, table(['Rule / variant', 'Scans', 'Share', '± (95 %)'],
    routes.map((r) => [r.route, r.scans, pct(r.share), pct(r.margin95)])));
}

window.addEventListener('hashchange', route);
route();
