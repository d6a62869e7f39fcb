/**
 * Sums the self time of a V8 CPU profile (`node --cpu-prof`) by function and by file:
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 30] [--match src/]
 *
 * Self time is what a function spent in its own code (its callees excluded), from the samples'
 * time deltas; lines and columns are those of the code V8 ran (tsx's output for TypeScript). `--match` keeps only the rows whose file contains the text (e.g. `src/` for ours).
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function option(name: string): string | null {
  const index = process.argv.indexOf(name);
  return index === -1 ? null : (process.argv[index + 1] ?? null);
}

const file = process.argv[2];
if (file === undefined || file.startsWith('--')) throw new Error('usage: profile-summary.ts <file.cpuprofile> [--top N] [--match text]');
const top = Number(option('--top') ?? 30);
const match = option('--match');
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
// timeDeltas[i] is the time since the previous sample; it is attributed to sample i.
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function shortUrl(url: string): string {
  const cut = url.search(/\/(src|bench|test|node_modules)\//);
  return cut === -1 ? url.replace(/^file:\/\//, '') : url.slice(cut + 1);
}

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const frame = byId.get(id)?.callFrame;
  if (frame === undefined) continue;
  const where = frame.url === '' ? '(native)' : shortUrl(frame.url);
  if (match !== null && !where.includes(match)) continue;
  const fn = `${frame.functionName || '(anonymous)'} ${where}${frame.url === '' ? '' : `:${frame.lineNumber + 1}:${frame.columnNumber + 1}`}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  byFile.set(where, (byFile.get(where) ?? 0) + us);
}

function print(title: string, rows: Map<string, number>): void {
  console.log(`\n${title} (self time, of ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [name, us] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`);
  }
}

print('by function', byFunction);
print('by file', byFile);
