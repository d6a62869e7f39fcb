// @ts-check
import { Store } from './store.js';

/**
 * What the page shows lives in the URL (`?view=events&session=a&event=presence.update&chat=…`), so a
 * link or a reload reproduces the view with its filters.
 * @typedef {{ view: string, session: string, event: string, chat: string }} Route
 */

/** @returns {Route} */
function read() {
  const params = new URLSearchParams(location.search);
  return {
    view: params.get('view') ?? 'sessions',
    session: params.get('session') ?? '',
    event: params.get('event') ?? '',
    chat: params.get('chat') ?? '',
  };
}

/** @type {Store<Route>} */
export const route = new Store(read());

/** @param {Partial<Route>} change */
export function navigate(change) {
  const next = { ...route.value, ...change };
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(next)) if (value !== '' && !(key === 'view' && value === 'sessions')) params.set(key, value);
  const search = params.toString();
  history.replaceState(null, '', search === '' ? location.pathname : `?${search}`);
  route.set(next);
}
