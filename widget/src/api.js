/* The widget API client: our own origin only, no cookies, the attempt token in a header. */
import { attempt, idemKeys, visit } from './state.js';

const API = '/widget/v1';

export class ApiError extends Error {
  constructor(status, code, body) {
    super(code);
    this.status = status;
    this.code = code;
    this.body = body || {};
  }
  get transient() {
    return this.status === 0 || this.status >= 500 || this.code === 'idempotency_key_in_flight';
  }
}

/* POSTs that change state carry an Idempotency-Key: a retry after a lost response replays
 * the first answer instead of booking twice; a new key once an answer was received. */
export async function api(method, path, body, { idem = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (visit.key) headers['X-Widget-Key'] = visit.key;
  if (attempt.token) headers.Authorization = `Bearer ${attempt.token}`;
  let idemId = null;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (idem) {
    idemId = `${path} ${payload}`;
    if (!idemKeys.has(idemId)) idemKeys.set(idemId, crypto.randomUUID());
    headers['Idempotency-Key'] = idemKeys.get(idemId);
  }
  let res;
  try {
    res = await fetch(API + path, { method, headers, body: payload, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  // an answer arrived: the next try is a new request (a key in flight is kept for the retry)
  if (idem && res.status < 500 && !(data && data.code === 'idempotency_key_in_flight')) idemKeys.delete(idemId);
  if (!res.ok) throw new ApiError(res.status, (data && data.code) || `http_${res.status}`, data);
  return data;
}

export const framePath = (params) => `${API}/frame?${new URLSearchParams(params)}`;
