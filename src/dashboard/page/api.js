// @ts-check
/**
 * The dashboard talks to the server through its public API, like any client. Every URL is relative
 * to the page (…/dashboard/), so the dashboard works under any base path behind a proxy. The
 * browser sends the HttpOnly sign-in cookie by itself: no key is ever held by this code.
 */

/** An API error with the server's code and message. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @type {Set<() => void>} */
const signedOutListeners = new Set();

/** @param {() => void} listener */
export function onSignedOut(listener) {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

/** @param {string} path relative to the server root, e.g. "api/sessions" */
export function url(path) {
  return new URL(`../${path}`, document.baseURI).toString();
}

/** The server root's path (e.g. "/" or "/waha/"), where the sign-in cookie lives. */
export function rootPath() {
  return new URL('../', document.baseURI).pathname;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {Record<string, string>} [headers]
 * @returns {Promise<any>}
 */
export async function request(method, path, body, headers = {}) {
  /** @type {RequestInit} */
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, 'content-type': 'application/json' };
  }
  let response;
  try {
    response = await fetch(url(path), init);
  } catch {
    throw new ApiError(0, 'NETWORK', 'the server did not answer: is it running?');
  }
  const text = await response.text();
  /** @type {any} */
  let parsed = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = { message: text };
  }
  if (!response.ok) {
    const error = new ApiError(response.status, String(parsed?.code ?? parsed?.error ?? response.status), String(parsed?.message ?? response.statusText));
    if (response.status === 401 && !('x-api-key' in headers)) for (const listener of signedOutListeners) listener();
    throw error;
  }
  return parsed;
}

/** @param {string} path */
export function get(path) {
  return request('GET', path);
}

/** @param {string} path @param {unknown} [body] */
export function post(path, body) {
  return request('POST', path, body);
}

/** @param {string} path */
export function del(path) {
  return request('DELETE', path);
}

/** @param {string} id */
export const enc = (id) => encodeURIComponent(id);
