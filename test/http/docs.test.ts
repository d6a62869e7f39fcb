import { describe, expect, it } from 'vitest';
import { httpHarness } from '../support/http.js';

/** Every URL the page makes the browser load (scripts, styles, icons). */
function assetUrls(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((match) => match[1] ?? '');
}

describe('API documentation (Swagger UI)', () => {
  it('loads only from our own origin, whatever URL opened it', async () => {
    const h = await httpHarness();
    const page = await h.server.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    const urls = assetUrls(page.body);
    expect(urls.length).toBeGreaterThan(3);
    for (const url of urls) expect(url, url).toMatch(/^\.\/static\//);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);

    for (const url of ['/?x', '/?x=1&y=2', '//', '/static/index.html', '/static/index.html?y']) {
      const answer = await h.server.inject({ method: 'GET', url });
      expect(answer.statusCode, url).toBe(302);
      expect(answer.headers.location, url).toBe('/');
    }
    for (const url of ['/index.html?y', '/index.html', '/index.html/']) {
      const answer = await h.server.inject({ method: 'GET', url });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.body, url).not.toMatch(/src="\/\//);
    }
  });

  it('shows /openapi.json in the top bar', async () => {
    const h = await httpHarness();
    const initializer = await h.server.inject({ method: 'GET', url: '/static/swagger-initializer.js' });
    expect(initializer.statusCode).toBe(200);
    expect(initializer.body).toContain("url: resolveUrl('./openapi.json')");
    expect(initializer.body).not.toContain("resolveUrl('./json')");
  });

  it('says what logout does: the session stays STOPPED, it does not start again', async () => {
    const h = await httpHarness();
    const doc = (await h.server.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { summary?: string }>> }>();
    const summary = doc.paths['/api/sessions/{session}/logout']?.post?.summary ?? '';
    expect(summary).toMatch(/stays STOPPED/);
    expect(summary).not.toMatch(/starts again/);
  });
});
