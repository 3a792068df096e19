// Calls to the gateway's API with the session cookie. Unsafe methods carry the CSRF header the gateway
// requires of cookie-authenticated requests. The API key itself is never kept in the browser.
export class ApiError extends Error {
  constructor(status, problem) {
    const errors = problem && problem.errors ? Object.values(problem.errors).flat().join(' ') : '';
    super(errors || (problem && (problem.detail || problem.title)) || `Request failed (${status})`);
    this.status = status;
    this.problem = problem;
  }
}

const unauthorizedHandlers = [];
export function onUnauthorized(handler) { unauthorizedHandlers.push(handler); }

export async function api(method, path, body) {
  return send(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? null : 'application/json');
}

async function send(method, path, body, contentType, accept = () => false) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-InvexQR-CSRF'] = '1';
  if (contentType) headers['Content-Type'] = contentType;
  const response = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  const text = response.status === 204 ? '' : await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { title: text.slice(0, 200) }; }
  }
  if (!response.ok && !accept(response.status)) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && path !== '/app/session') unauthorizedHandlers.forEach((h) => h(error));
    throw error;
  }
  return data;
}

/** A CSV file of codes: the import's report, also when an atomic import was refused (422). */
export const importCodes = (file, mode) =>
  send('POST', `/api/bulk/codes?${new URLSearchParams({ mode })}`, file, 'text/csv', (status) => status === 422);
export const bulkZipUrl = (tag, format) => `/api/bulk/qr.zip?${new URLSearchParams({ tag, format })}`;

export const signIn = (apiKey) => api('POST', '/app/session', { apiKey });
export const signOut = () => api('DELETE', '/app/session');
export const whoAmI = () => api('GET', '/app/session');
const code = (c) => `/api/codes/${encodeURIComponent(c)}`;
export const listCodes = (params) => api('GET', `/api/codes?${new URLSearchParams(params)}`);
export const getCode = (c) => api('GET', code(c));
export const createCode = (body) => api('POST', '/api/codes', body);
export const updateCode = (c, body) => api('PATCH', code(c), body);
export const deleteCode = (c) => api('DELETE', code(c));
export const codeStats = (c, period) => api('GET', `${code(c)}/stats?${new URLSearchParams(period)}`);
export const previewRouting = (c, body) => api('POST', `${code(c)}/routing/preview`, body);
export const accountStats = (period) => api('GET', `/api/stats?${new URLSearchParams(period)}`);
export const qrUrl = (c, format, download) => `${code(c)}/qr.${format}${download ? '?download=true' : '?size=256'}`;
export const scansCsvUrl = (c, period) => `${code(c)}/scans.csv?${new URLSearchParams(period)}`;
export const listKeys = () => api('GET', '/api/keys');
export const createKey = (name) => api('POST', '/api/keys', { name });
export const revokeKey = (id) => api('DELETE', `/api/keys/${encodeURIComponent(id)}`);
export const listOwners = (params) => api('GET', `/api/owners?${new URLSearchParams(params)}`);
export const createOwner = (body) => api('POST', '/api/owners', body);
export const deleteOwner = (id) => api('DELETE', `/api/owners/${encodeURIComponent(id)}`);
// Live view streams (Server-Sent Events; the session cookie goes with them, same origin).
export const codeLiveUrl = (c) => `${code(c)}/live`;
export const accountLiveUrl = () => '/api/live';
