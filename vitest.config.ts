import { defineConfig } from 'vitest/config';

// The three-server failover test measures a 10 s failover bound: it runs alone, after every other
// file, so that no other test competes with it for the machine's two cores.
const CLUSTER_FAILOVER = 'test/cluster/failover.test.ts';

export default defineConfig({
  test: {
    // End-to-end tests start real servers and Baileys clients: on a 2-core machine, running
    // every file at once starves the event loops and turns timeouts into flakes.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // CI reads a machine-readable summary (see .ci/run); people get the default reporter only.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]] : ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: [CLUSTER_FAILOVER], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'cluster', include: [CLUSTER_FAILOVER], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
