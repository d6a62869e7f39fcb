/**
 * Sums a V8 CPU profile (`node --cpu-prof`) by where the time went, without a profiler UI:
 *
 *   npx tsx bench/cpuprofile.ts <file.cpuprofile> [--top K] [--from S] [--to S] [--inclusive NAME]
 *
 * Prints self time by package/file group (baileys, libsignal, our src/, node internals, GC, idle),
 * by file, and by function, each with its share of the profile's non-idle time. `--from`/`--to` keep
 * only samples in that window (seconds from the profile's start), e.g. one bench step. `--inclusive`
 * also prints the total (self + callees) time of every function whose name contains NAME.
 */
import { readFile } from 'node:fs/promises';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function option(args: readonly string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at < 0 ? undefined : args[at + 1];
}

/** A coarse owner of a script: which package, or our code, or the runtime. */
function groupOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program)';
    return '(native)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1] !== undefined) return pkg[1];
  if (url.startsWith('node:')) return 'node:internals';
  const ours = /\/(src\/[^/]+|bench|test)\//.exec(url);
  if (ours?.[1] !== undefined) return ours[1];
  return url;
}

function shortUrl(url: string): string {
  const pkg = url.indexOf('node_modules/');
  if (pkg >= 0) return url.slice(pkg + 'node_modules/'.length);
  const src = /\/((?:src|bench|test)\/.*)$/.exec(url);
  return src?.[1] ?? url;
}

function table(title: string, totals: Map<string, number>, activeUs: number, top: number): void {
  console.log(`\n${title}`);
  const rows = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [name, us] of rows) {
    console.log(`${(us / 1000).toFixed(0).padStart(9)} ms ${((100 * us) / activeUs).toFixed(1).padStart(5)} %  ${name}`);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args[0];
  if (file === undefined || file.startsWith('--')) {
    process.stderr.write('usage: npx tsx bench/cpuprofile.ts <file.cpuprofile> [--top K] [--from S] [--to S] [--inclusive NAME]\n');
    process.exit(2);
  }
  const top = Number(option(args, '--top') ?? 25);
  const fromUs = Number(option(args, '--from') ?? 0) * 1e6;
  const toUs = Number(option(args, '--to') ?? Number.POSITIVE_INFINITY) * 1e6;
  const inclusiveName = option(args, '--inclusive');
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;

  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  const selfUs = new Map<number, number>();
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) continue;
    // A sample's delta is the time since the previous one: charge it to this sample's node.
    const id = profile.samples[i] ?? -1;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
  }

  const byGroup = new Map<string, number>();
  const byFile = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  const add = (map: Map<string, number>, key: string, us: number): void => {
    map.set(key, (map.get(key) ?? 0) + us);
  };
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    totalUs += us;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    add(byGroup, groupOf(frame), us);
    add(byFile, shortUrl(frame.url) || '(no script)', us);
    add(byFunction, `${frame.functionName || '(anonymous)'}  ${shortUrl(frame.url)}:${frame.lineNumber + 1}`, us);
    if (inclusiveName !== undefined) {
      // Charge the sample to each distinct matching function on its stack once.
      const seen = new Set<string>();
      for (let walk: number | undefined = id; walk !== undefined; walk = parent.get(walk)) {
        const f = byId.get(walk)?.callFrame;
        if (f === undefined || !f.functionName.includes(inclusiveName)) continue;
        const key = `${f.functionName}  ${shortUrl(f.url)}:${f.lineNumber + 1}`;
        if (seen.has(key)) continue;
        seen.add(key);
        add(inclusive, key, us);
      }
    }
  }
  const activeUs = totalUs - idleUs;
  console.log(`${file}: ${(totalUs / 1e6).toFixed(1)} s sampled, ${(idleUs / 1e6).toFixed(1)} s idle, ${(activeUs / 1e6).toFixed(1)} s busy (percentages are of busy time)`);
  table('self time by group', byGroup, activeUs, top);
  table('self time by file', byFile, activeUs, top);
  table('self time by function', byFunction, activeUs, top);
  if (inclusiveName !== undefined) table(`total time of functions named *${inclusiveName}*`, inclusive, activeUs, top);
}

await main();
