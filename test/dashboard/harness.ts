import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServerProcess } from '../cluster/server-process.js';
import type { ServerProcess } from '../cluster/server-process.js';

/** Debian's Chromium (`.ci/run` installs it): playwright-core downloads no browser. */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Screenshots land here (gitignored), one per screen. */
export const ARTEFACTS = join(process.cwd(), '.tmp', 'dashboard');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
}

/** The real server (`src/main.ts`) with the embedded sandbox, as `npm start -- --sandbox` runs it. */
export interface SandboxServer {
  readonly process: ServerProcess;
  readonly url: string;
  readonly apiKey: string;
  close(): Promise<void>;
}

export async function startSandboxServer(env: Record<string, string> = {}): Promise<SandboxServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-dashboard-'));
  const apiKey = 'dashboard-test-key';
  const server = await startServerProcess('dashboard', { WHATSAPP_API_KEY: apiKey, WA_PRESENCE_SANDBOX: 'true', WA_PRESENCE_DATA_DIR: dataDir, ...env }, 60_000);
  return {
    process: server,
    url: server.url,
    apiKey,
    async close() {
      await server.kill('SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A page that records what a user would not want: any request to a host other than the server's,
 * and any console error or uncaught exception. Tests assert both lists are empty at the end.
 */
export interface GuardedPage {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly offHost: string[];
  readonly errors: string[];
}

export async function guardedPage(browser: Browser, serverUrl: string, viewport = { width: 1200, height: 860 }): Promise<GuardedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const host = new URL(serverUrl).host;
  const offHost: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => {
    const target = new URL(request.url());
    if (target.protocol !== 'data:' && target.host !== host) offHost.push(request.url());
  });
  page.on('console', (message) => {
    // Chromium logs every non-2xx answer as a failed resource. Two are answers the page expects and
    // shows: 401 (the sign-in test's wrong key) and 409 (history off for a session, shown as a note).
    if (message.type() === 'error' && !/status of (401|409)/.test(message.text())) errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return { page, context, offHost, errors };
}

/** Calls the API with the key, as a script would. */
export async function api<T = unknown>(server: SandboxServer, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'x-api-key': server.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}
