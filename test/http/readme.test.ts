import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { HTTP_STATUS } from '../../src/http/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The table rows between `<!-- name:start -->` and `<!-- name:end -->`, as cells. */
function table(name: string): string[][] {
  const start = readme.indexOf(`<!-- ${name}:start -->`);
  const end = readme.indexOf(`<!-- ${name}:end -->`);
  expect(start, `README has the ${name} markers`).toBeGreaterThan(-1);
  expect(end).toBeGreaterThan(start);
  return readme
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .slice(2) // header and separator
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
}

describe('README', () => {
  it('lists exactly the error codes of the registry, each with its HTTP status', () => {
    const rows = table('error-codes').map(([code, status]) => [code?.replace(/`/g, ''), Number(status)] as const);
    expect(rows.map(([code]) => code).sort()).toEqual([...ERROR_CODES].sort());
    for (const [code, status] of rows) expect(status, code).toBe(HTTP_STATUS[code as keyof typeof HTTP_STATUS]);
  });

  it('documents every environment variable that src/config.ts reads', () => {
    const source = readFileSync(new URL('../../src/config.ts', import.meta.url), 'utf8');
    const read = new Set([...source.matchAll(/'((?:WHATSAPP|WAHA|WA_PRESENCE)_[A-Z0-9_]+|PORT)'/g)].map((match) => match[1]));
    const documented = new Set(table('config-vars').flatMap(([names]) => [...(names ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((match) => match[1])));
    expect([...read].filter((name) => !documented.has(name))).toEqual([]);
  });
});
