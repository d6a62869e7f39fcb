import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/**
 * `npm ci` warns EBADENGINE for any installed package whose `engines.node` excludes the running
 * Node. package.json claims `engines.node`: every package the lockfile installs on Linux must admit
 * the oldest release of that claim in each Node major from 20 on, or the claim is false. (Platform
 * binaries for other systems, `os` without linux, are installed only there.)
 */

const ROOT = new URL('../../', import.meta.url);

interface LockEntry { engines?: { node?: string } | string[]; os?: string[] }

/** The first release of each major (20, 22, …) that `claim` admits. */
function oldestPerMajor(claim: string): string[] {
  const found: string[] = [];
  for (let major = 20; major <= 26; major += 2) {
    for (let minor = 0; minor <= 40; minor += 1) {
      const version = `${major}.${minor}.0`;
      if (semver.satisfies(version, claim)) {
        found.push(version);
        break;
      }
    }
  }
  return found;
}

describe('Node versions', () => {
  it('every locked package supports the oldest Node of each major that package.json claims', async () => {
    const manifest = JSON.parse(await readFile(fileURLToPath(new URL('package.json', ROOT)), 'utf8')) as { engines: { node: string } };
    const lock = JSON.parse(await readFile(fileURLToPath(new URL('package-lock.json', ROOT)), 'utf8')) as { packages: Record<string, LockEntry> };
    const versions = oldestPerMajor(manifest.engines.node);
    expect(versions.slice(0, 2)).toEqual(['20.19.0', '22.13.0']);
    const refusing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (path === '' || range === undefined || (entry.os !== undefined && !entry.os.includes('linux'))) continue;
      const excluded = versions.filter((version) => !semver.satisfies(version, range));
      if (excluded.length > 0) refusing.push(`${path} (node ${range}) excludes ${excluded.join(', ')}`);
    }
    expect(refusing).toEqual([]);
  });
});
