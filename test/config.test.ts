import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, loadSandboxConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('keeps presence history off by default, 30 days when on, and bounds the retention to 1-365 days', () => {
    expect([loadConfig({}, []).presenceHistory, loadConfig({}, []).presenceHistoryRetentionDays]).toEqual([false, 30]);
    expect(loadConfig({ WA_PRESENCE_HISTORY: 'true', WA_PRESENCE_HISTORY_RETENTION_DAYS: '365' }, [])).toMatchObject({ presenceHistory: true, presenceHistoryRetentionDays: 365 });
    expect(() => loadConfig({ WA_PRESENCE_HISTORY_RETENTION_DAYS: '0' }, [])).toThrow(/WA_PRESENCE_HISTORY_RETENTION_DAYS must be between 1 and 365/);
    expect(() => loadConfig({ WA_PRESENCE_HISTORY: 'maybe' }, [])).toThrow(/WA_PRESENCE_HISTORY must be true or false/);
  });

  it('applies the defaults', () => {
    const config = loadConfig({}, []);
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.apiKey).toBeNull();
    expect(config.sandbox).toEqual({ kind: 'off' });
    expect(config.hook).toBeNull();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('prefers WHATSAPP_API_PORT over PORT', () => {
    expect(loadConfig({ WHATSAPP_API_PORT: '4000', PORT: '5000' }, []).port).toBe(4000);
    expect(loadConfig({ PORT: '5000' }, []).port).toBe(5000);
  });

  it('names the variable in every error', () => {
    expect(() => loadConfig({ PORT: 'abc' }, [])).toThrow(/PORT must be a whole number/);
    expect(() => loadConfig({ WA_PRESENCE_SANDBOX: 'maybe' }, [])).toThrow(/WA_PRESENCE_SANDBOX must be a URL/);
    expect(() => loadConfig({ WHATSAPP_HOOK_URL: 'ftp://x' }, [])).toThrow(/WHATSAPP_HOOK_URL must use http: or https:/);
    expect(() => loadConfig({ WHATSAPP_DEFAULT_ENGINE: 'WEBJS' }, [])).toThrow(ConfigError);
    expect(() => loadConfig({ WHATSAPP_HOOK_URL: 'http://x', WHATSAPP_HOOK_RETRIES_POLICY: 'random' }, [])).toThrow(
      /WHATSAPP_HOOK_RETRIES_POLICY must be one of constant, linear, exponential/,
    );
  });

  it('paces engine starts: 8 at a time unless told, at least 1', () => {
    expect(loadConfig({}, []).startConcurrency).toBe(8);
    expect(loadConfig({ WA_PRESENCE_START_CONCURRENCY: '2' }, []).startConcurrency).toBe(2);
    expect(() => loadConfig({ WA_PRESENCE_START_CONCURRENCY: '0' }, [])).toThrow(/WA_PRESENCE_START_CONCURRENCY must be between 1 and 1000, got 0/);
    expect(() => loadConfig({ WA_PRESENCE_START_CONCURRENCY: 'many' }, [])).toThrow(/WA_PRESENCE_START_CONCURRENCY must be a whole number, got "many"/);
  });

  it('turns the sandbox on from the flag, the variable or a URL', () => {
    expect(loadConfig({}, ['--sandbox']).sandbox).toEqual({ kind: 'embedded', autoPair: true });
    expect(loadConfig({ WA_PRESENCE_SANDBOX: 'true' }, []).sandbox.kind).toBe('embedded');
    expect(loadConfig({ WA_PRESENCE_SANDBOX: 'ws://127.0.0.1:4001/ws', WA_PRESENCE_SANDBOX_AUTOPAIR: 'false' }, []).sandbox).toEqual({
      kind: 'remote',
      url: 'ws://127.0.0.1:4001/ws',
      autoPair: false,
    });
  });

  it('reads the global webhook with WAHA names', () => {
    const config = loadConfig(
      {
        WHATSAPP_HOOK_URL: 'http://127.0.0.1:9999/hook',
        WHATSAPP_HOOK_EVENTS: 'presence.update, session.status',
        WHATSAPP_HOOK_HMAC_KEY: 'secret',
        WHATSAPP_HOOK_CUSTOM_HEADERS: 'X-A:1;X-B: two',
      },
      [],
    );
    expect(config.hook).toEqual({
      url: 'http://127.0.0.1:9999/hook',
      events: ['presence.update', 'session.status'],
      hmacKey: 'secret',
      retries: { policy: 'exponential', delaySeconds: 2, attempts: 15 },
      customHeaders: [
        { name: 'X-A', value: '1' },
        { name: 'X-B', value: 'two' },
      ],
    });
  });
});

describe('loadSandboxConfig: WA_PRESENCE_SANDBOX_DATA_DIR', () => {
  it('keeps the standalone sandbox in memory unless a directory is given, resolved to an absolute path', () => {
    expect(loadSandboxConfig({}, []).dataDir).toBeNull();
    expect(loadSandboxConfig({ WA_PRESENCE_SANDBOX_DATA_DIR: 'sandbox-data' }, []).dataDir).toBe(resolve('sandbox-data'));
  });
});

describe('loadConfig: operations', () => {
  it('metrics on by default, session labels off, no drain; each can be set', () => {
    expect(loadConfig({}, [])).toMatchObject({ metrics: true, metricsSessionLabels: false, shutdownDrainMs: 0 });
    expect(loadConfig({ WA_PRESENCE_METRICS: 'false', WA_PRESENCE_METRICS_SESSION_LABELS: 'true', WA_PRESENCE_SHUTDOWN_DRAIN_MS: '5000' }, [])).toMatchObject({
      metrics: false,
      metricsSessionLabels: true,
      shutdownDrainMs: 5000,
    });
  });

  it('several servers: a 4 s lease renewed every 750 ms by default, the heartbeat shorter than the lease', () => {
    expect(loadConfig({}, [])).toMatchObject({ leaseTtlMs: 4000, heartbeatMs: 750 });
    expect(loadConfig({ WA_PRESENCE_LEASE_TTL_MS: '1500' }, [])).toMatchObject({ leaseTtlMs: 1500, heartbeatMs: 375 });
    expect(loadConfig({ WA_PRESENCE_LEASE_TTL_MS: '15000', WA_PRESENCE_HEARTBEAT_MS: '3000' }, [])).toMatchObject({ leaseTtlMs: 15000, heartbeatMs: 3000 });
    expect(() => loadConfig({ WA_PRESENCE_HEARTBEAT_MS: '4000' }, [])).toThrow(/WA_PRESENCE_HEARTBEAT_MS \(4000\) must be shorter than WA_PRESENCE_LEASE_TTL_MS \(4000\)/);
  });

  it('refuses malformed values, naming the variable', () => {
    expect(() => loadConfig({ WA_PRESENCE_METRICS: 'maybe' }, [])).toThrow(/WA_PRESENCE_METRICS must be true or false/);
    expect(() => loadConfig({ WA_PRESENCE_SHUTDOWN_DRAIN_MS: '-1' }, [])).toThrow(/WA_PRESENCE_SHUTDOWN_DRAIN_MS must be a whole number/);
    expect(() => loadConfig({ WA_PRESENCE_SHUTDOWN_DRAIN_MS: '700000' }, [])).toThrow(ConfigError);
  });
});
