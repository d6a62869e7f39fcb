import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { httpHarness } from '../support/http.js';

interface Operation { readonly summary?: string; readonly tags?: readonly string[] }
interface OpenApi {
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
  readonly tags: readonly { readonly name: string; readonly description?: string }[];
}

/**
 * Issue 13: with the embedded sandbox, its admin API is served through the main port and shown in
 * the API docs under a tag of its own, each route with a summary that says what it does.
 */
describe('the sandbox admin API in the OpenAPI document', () => {
  it('groups every /api/sandbox route under the "sandbox" tag, each with a summary', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wa-presence-sandbox-docs-'));
    onTestFinished(() => rmSync(dataDir, { recursive: true, force: true }));
    const h = await httpHarness({ WA_PRESENCE_SANDBOX: 'true', WA_PRESENCE_DATA_DIR: dataDir });
    const doc = (await h.request('GET', '/openapi.json')).json<OpenApi>();

    expect(doc.tags.find((tag) => tag.name === 'sandbox')?.description).toMatch(/sandbox/i);
    const sandboxOps = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/sandbox/'))
      .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ where: `${method} ${path}`, op })));
    expect(sandboxOps.length).toBeGreaterThanOrEqual(11);
    for (const { where, op } of sandboxOps) {
      expect(op.tags, where).toEqual(['sandbox']);
      expect(op.summary?.length ?? 0, where).toBeGreaterThan(8);
    }
    // No two routes share a summary: each says what it alone does.
    expect(new Set(sandboxOps.map(({ op }) => op.summary)).size).toBe(sandboxOps.length);
  });
});
