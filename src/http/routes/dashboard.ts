import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import { SERVER_VERSION } from '../../events/envelope.js';
import type { Hub } from '../../events/hub.js';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import { createRecentEvents } from '../../events/recent.js';
import { DASHBOARD_COOKIE, DASHBOARD_COOKIE_TTL_MS, mintDashboardToken } from '../cookie-auth.js';
import { dashboardEventsRoute } from './dashboard-events.js';
import { dashboardTestEventRoute } from './dashboard-webhooks.js';
import type { TestEventOptions } from './dashboard-webhooks.js';

/**
 * The browser dashboard (issue 15): a shell rendered per request, our page modules from
 * src/dashboard/page and three vendor modules (Preact, its hooks, htm) from node_modules, all under
 * /dashboard/ with relative URLs, so it works at any base path behind a proxy. No build step: the
 * served files are the source files, read once at start-up. Nothing is loaded from another host.
 */
export interface DashboardOptions {
  readonly config: Pick<Config, 'dashboard' | 'baseUrl' | 'sandbox' | 'serverId'>;
  readonly hub: Hub;
  /** For "send test event" (a `webhook.test` delivery to one webhook); without it the route is absent. */
  readonly testEvents?: TestEventOptions;
  /** The server's clock (a sign-in cookie's times); the system's by default. */
  readonly clock?: Pick<Clock, 'now'>;
}

export interface DashboardRoutes {
  /** The shell, assets and sign-out: register outside the API-key scope. */
  readonly public: (scope: FastifyInstance) => Promise<void>;
  /** Sign-in, "am I signed in" and the recent events: register inside the API-key scope. */
  readonly protected: (scope: FastifyInstance) => Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PAGE_DIR = join(ROOT, 'src', 'dashboard', 'page');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

function readPage(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(PAGE_DIR)) {
    const type = TYPES[extname(name)];
    if (type !== undefined) assets.set(name, { type, body: readFileSync(join(PAGE_DIR, name)) });
  }
  return assets;
}

/** The exact browser files of the runtime packages (their ESM builds), by the name the import map gives them. */
function readVendor(): { assets: Map<string, Asset>; imports: Record<string, string> } {
  const require = createRequire(import.meta.url);
  // preact's exports give its ESM files for every condition; htm's `require` gives CJS, so its ESM file is named.
  const files: Record<string, [string, string]> = {
    preact: ['preact.mjs', require.resolve('preact')],
    'preact/hooks': ['hooks.mjs', require.resolve('preact/hooks')],
    htm: ['htm.mjs', join(dirname(require.resolve('htm')), 'htm.mjs')],
  };
  const assets = new Map<string, Asset>();
  const imports: Record<string, string> = {};
  for (const [specifier, [name, path]] of Object.entries(files)) {
    assets.set(name, { type: TYPES['.mjs'] ?? 'text/javascript', body: readFileSync(path) });
    imports[specifier] = `./vendor/${name}`;
  }
  return { assets, imports };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The path prefix the dashboard is reached under, from WAHA_BASE_URL (no trailing slash), or null. */
export function basePathOf(baseUrl: string | null): string | null {
  if (baseUrl === null) return null;
  return new URL(baseUrl).pathname.replace(/\/+$/, '');
}

const COOKIE_PATH = /^\/[A-Za-z0-9._~\-/]{0,200}$/;

function cookiePath(body: unknown, fallback: string): string {
  const path = (body as { path?: unknown } | null | undefined)?.path;
  if (path === undefined) return fallback;
  if (typeof path !== 'string' || !COOKIE_PATH.test(path)) {
    throw new AppError('VALIDATION_FAILED', 'path must be the URL path the server is reached under, e.g. "/" or "/waha/"', { field: 'path' });
  }
  return path;
}

export function dashboardRoutes(options: DashboardOptions): DashboardRoutes {
  const { config } = options;
  if (!config.dashboard) return { public: () => Promise.resolve(), protected: () => Promise.resolve() };
  const page = readPage();
  const vendor = readVendor();
  const importMap = JSON.stringify({ imports: vendor.imports });
  const importMapHash = createHash('sha256').update(importMap).digest('base64');
  // The import map is the one inline script (browsers load no external import map): allowed by its hash.
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'sha256-${importMapHash}'`,
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
  const basePath = basePathOf(config.baseUrl);
  const meta = JSON.stringify({ version: SERVER_VERSION, sandbox: config.sandbox.kind === 'embedded', server: config.serverId });

  function secure(reply: FastifyReply): FastifyReply {
    return reply
      .header('content-security-policy', csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');
  }

  function shell(): string {
    const base = basePath === null ? '' : `<base href="${escapeHtml(`${basePath}/dashboard/`)}">`;
    const preload = Object.values(vendor.imports).map((href) => `<link rel="modulepreload" href="${escapeHtml(href)}">`).join('');
    return `<!doctype html><html lang="en"><head><meta charset="utf-8">${base}
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="wa-presence" content="${escapeHtml(meta)}">
<title>wa-presence dashboard</title>
<link rel="icon" href="app/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="app/styles.css">
<script type="importmap">${importMap}</script>${preload}
<script type="module" src="app/main.js"></script>
</head><body><noscript>The wa-presence dashboard needs JavaScript.</noscript><div id="app"></div></body></html>`;
  }

  function sendAsset(reply: FastifyReply, asset: Asset | undefined, cache: string): FastifyReply {
    if (asset === undefined) throw new AppError('NOT_FOUND', 'no such dashboard file');
    return secure(reply).header('content-type', asset.type).header('cache-control', cache).send(asset.body);
  }

  function clearCookie(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const path = cookiePath(request.body, basePath === null ? '/' : `${basePath}/`);
    return reply.header('set-cookie', `${DASHBOARD_COOKIE}=; Path=${path}; HttpOnly; SameSite=Strict; Max-Age=0`);
  }

  const hidden = { schema: { hide: true } };
  const publicRoutes = (scope: FastifyInstance): Promise<void> => {
    // Relative: behind a proxy at /waha/ the browser goes to /waha/dashboard/.
    scope.get('/dashboard', hidden, (_request, reply) => reply.redirect('dashboard/', 302));
    scope.get('/dashboard/', hidden, (_request, reply) =>
      secure(reply).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(shell()));
    scope.get<{ Params: { file: string } }>('/dashboard/app/:file', hidden, (request, reply) =>
      sendAsset(reply, page.get(request.params.file), 'no-cache'));
    scope.get<{ Params: { file: string } }>('/dashboard/vendor/:file', hidden, (request, reply) =>
      sendAsset(reply, vendor.assets.get(request.params.file), 'public, max-age=86400'));
    // Sign-out needs no key: it only tells the browser to forget its cookie.
    scope.delete('/dashboard/session', hidden, (request, reply) => clearCookie(request, reply).code(204).send());
    return Promise.resolve();
  };

  const recent = createRecentEvents(options.hub);
  const protectedRoutes = async (scope: FastifyInstance): Promise<void> => {
    scope.addHook('onClose', () => recent.close());
    // Reached with X-Api-Key (the API-key hook checked it): sets the cookie for the page's origin.
    scope.post('/dashboard/session', hidden, (request, reply) => {
      const key = request.headers['x-api-key'];
      if (typeof key !== 'string') {
        throw new AppError('VALIDATION_FAILED', 'sign in with the API key in the X-Api-Key header', { field: 'x-api-key' });
      }
      const origin = request.headers.origin;
      if (origin === undefined || !originMatches(origin, request, config.baseUrl)) {
        throw new AppError('VALIDATION_FAILED', `sign in from the dashboard page: the Origin header (${origin ?? 'none'}) must be this server's`, { field: 'origin' });
      }
      const path = cookiePath(request.body, basePath === null ? '/' : `${basePath}/`);
      const now = (options.clock ?? systemClock).now();
      const token = mintDashboardToken(key, origin, now);
      const flags = `Path=${path}; HttpOnly; SameSite=Strict; Max-Age=${DASHBOARD_COOKIE_TTL_MS / 1000}${origin.startsWith('https:') ? '; Secure' : ''}`;
      return reply.header('set-cookie', `${DASHBOARD_COOKIE}=${token}; ${flags}`).code(201).send({ signedIn: true, expiresAt: now + DASHBOARD_COOKIE_TTL_MS });
    });
    scope.get('/dashboard/session', hidden, () => ({ signedIn: true, ...JSON.parse(meta) as Record<string, unknown> }));
    await dashboardEventsRoute(scope, recent);
    if (options.testEvents !== undefined) await dashboardTestEventRoute(scope, options.testEvents);
  };
  return { public: publicRoutes, protected: protectedRoutes };
}

/** Whether a page origin is this server as the browser sees it: the Host (or a proxy's X-Forwarded-Host) or WAHA_BASE_URL. */
export function originMatches(origin: string, request: FastifyRequest, baseUrl: string | null): boolean {
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  const forwarded = request.headers['x-forwarded-host'];
  const candidates = [request.headers.host, typeof forwarded === 'string' ? forwarded.split(',')[0]?.trim() : undefined];
  if (baseUrl !== null) candidates.push(new URL(baseUrl).host);
  return candidates.includes(host);
}
