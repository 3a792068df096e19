// DOM helpers. Text always goes in as text nodes (textContent), never as HTML: titles, URLs, tags and
// user-agent-derived names come from users and scanners.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style') throw new Error('inline styles are not allowed by the CSP; use a class');
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** For the few places that hand a string to code that renders HTML (ECharts tooltips). */
export function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Only http(s) URLs become links. */
export function safeHref(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

export function announce(message) {
  const status = document.getElementById('status');
  if (status) status.textContent = message;
}

const numberFormat = new Intl.NumberFormat();
export const fmt = (n) => numberFormat.format(n ?? 0);

let regionNames = null;
try { regionNames = new Intl.DisplayNames([navigator.language || 'en'], { type: 'region' }); } catch { regionNames = null; }
/** "GB" -> "United Kingdom" (the browser's own names), falling back to the code. */
export function countryName(code) {
  if (!code || code === 'unknown') return 'Unknown';
  try { return (regionNames && regionNames.of(code)) || code; } catch { return code; }
}
