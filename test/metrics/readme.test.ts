import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHub } from '../../src/events/hub.js';
import { registerGauges } from '../../src/metrics/gauges.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { hasPromtool, promtool } from './support.js';

const README = new URL('../../README.md', import.meta.url);

function between(text: string, marker: string): string {
  const start = text.indexOf(`<!-- ${marker}:start -->`);
  const end = text.indexOf(`<!-- ${marker}:end -->`);
  if (start < 0 || end < start) throw new Error(`README has no ${marker} markers`);
  return text.slice(start, end);
}

describe('README: operations', () => {
  it('the metrics table lists exactly the metrics the registry has, with their types', async () => {
    const readme = await readFile(README, 'utf8');
    const documented = new Map(
      [...between(readme, 'metrics').matchAll(/^\| `(wa_presence_[a-z_]+)` \| (counter|gauge|histogram) \|/gm)].map((match) => [match[1], match[2]]),
    );
    const metrics = createMetrics({ sessionLabels: false, defaults: false });
    registerGauges(metrics, {
      sessions: () => Promise.resolve([]),
      subscriptions: { list: () => Promise.resolve([]) },
      outbox: { pendingByWebhook: () => Promise.resolve([]) },
      hub: createHub(),
      dropped: () => 0,
      leasesHeld: () => 0,
    });
    const registered = new Map((await metrics.registry.getMetricsAsJSON()).map((metric) => [metric.name, String(metric.type)]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(registered));
  });

  it.skipIf(!hasPromtool)('the alert rules pass promtool check rules', async () => {
    const readme = await readFile(README, 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(between(readme, 'alert-rules'))?.[1];
    if (yaml === undefined) throw new Error('no yaml block between the alert-rules markers');
    const dir = await mkdtemp(join(tmpdir(), 'wa-rules-'));
    try {
      await writeFile(join(dir, 'rules.yml'), yaml);
      const check = promtool(['check', 'rules', join(dir, 'rules.yml')]);
      expect(check.output).toContain('SUCCESS: 3 rules found');
      expect(check.status).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
