/**
 * Where a process's resident memory is, from outside it (Linux /proc): the memory section's breakdown
 * (BENCHMARKS.md, "Memory at the default horizons: where the RSS is").
 *
 * - `smapsBreakdown(pid)`: /proc/<pid>/smaps summed by kind of mapping. glibc's malloc keeps the main arena in
 *   the brk heap (`[heap]`) and gives every other thread that allocates an arena of its own: a 64 MiB-aligned
 *   anonymous mapping, reserved at 64 MiB (HEAP_MAX_SIZE) and made readable as it grows (glibc malloc/arena.c), so
 *   a read-write anonymous mapping that starts on a 64 MiB boundary and ends where a no-access one continues it
 *   to the next boundary is an arena. The other anonymous mappings are V8's heap pages (every isolate's), malloc's
 *   own mmaps of large blocks (>= M_MMAP_THRESHOLD, e.g. big ArrayBuffer backing stores) and thread stacks.
 * - `mallocStats(pid)`: glibc's per-arena totals (malloc_stats(3), printed on the process's stderr) and, with
 *   `trim`, malloc_trim(0) and the RSS before and after: the memory malloc holds free (fragmentation), which the
 *   kernel gets back only when trimmed. It attaches gdb to the process: run it only once a measurement is over.
 * - `parseTraceGc(text)`: the last `--trace-gc` line of each isolate (V8 prints `[pid:isolate] ... Mark-Compact
 *   A (B) -> C (D) MB`: objects (memory of the heap) before -> after), to tell the threads' heaps apart.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const KiB = 1024;
const MiB = 2 ** 20;
const ARENA = 64 * MiB;

export interface SmapsBreakdown {
  readonly rssMiB: number;
  /** Anonymous memory of the brk heap (glibc's main arena). */
  readonly brkHeapMiB: number;
  /** Resident memory of the other threads' malloc arenas, and how many there are. */
  readonly arenasMiB: number;
  readonly arenas: number;
  /** Other anonymous mappings: V8 heap pages of every isolate, malloc's mmapped large blocks, thread stacks. */
  readonly anonOtherMiB: number;
  /** Of those, mappings of >= 1 MiB resident (large blocks and V8's large-object and regular pages coalesced). */
  readonly anonLargeMiB: number;
  /** The node binary's mapped pages, and every other file (libraries, SQLite's -shm files). */
  readonly binaryMiB: number;
  readonly filesMiB: number;
  readonly threads: readonly string[];
}

interface Mapping {
  start: number;
  end: number;
  perms: string;
  path: string;
  rss: number;
  anon: number;
}

function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16), perms: head[3]!, path: head[4]!, rss: 0, anon: 0 };
      out.push(cur);
    } else if (cur && line.startsWith('Rss:')) cur.rss = Number(line.split(/\s+/)[1]) * KiB;
    else if (cur && line.startsWith('Anonymous:')) cur.anon = Number(line.split(/\s+/)[1]) * KiB;
  }
  return out;
}

export function smapsBreakdown(pid: number): SmapsBreakdown {
  const maps = mappings(pid);
  const exe = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  let rss = 0;
  let brk = 0;
  let arenas = 0;
  let arenaCount = 0;
  let other = 0;
  let large = 0;
  let binary = 0;
  let files = 0;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    rss += m.rss;
    if (m.path === '[heap]') brk += m.rss;
    else if (m.path.startsWith('/') && (m.path === exe || m.path.endsWith('/node'))) binary += m.rss;
    else if (m.path.startsWith('/')) files += m.rss;
    else if (m.path === '' || m.path === '[stack]') {
      const next = maps[i + 1];
      const isArena =
        m.perms.startsWith('rw') &&
        m.start % ARENA === 0 &&
        (m.end - m.start === ARENA || (next !== undefined && next.start === m.end && next.perms === '---p' && next.end - m.start === ARENA));
      if (isArena) {
        arenas += m.rss;
        arenaCount++;
      } else {
        other += m.rss;
        if (m.rss >= MiB) large += m.rss;
      }
    } else files += m.rss; // [vdso], [vvar] and the like
  }
  let threads: string[] = [];
  try {
    threads = readdirSync(`/proc/${pid}/task`).map((t) => readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim());
  } catch {
    // the process ended meanwhile
  }
  return {
    rssMiB: rss / MiB,
    brkHeapMiB: brk / MiB,
    arenasMiB: arenas / MiB,
    arenas: arenaCount,
    anonOtherMiB: other / MiB,
    anonLargeMiB: large / MiB,
    binaryMiB: binary / MiB,
    filesMiB: files / MiB,
    threads,
  };
}

export function formatSmaps(b: SmapsBreakdown): string {
  const f = (x: number) => x.toFixed(0);
  return `RSS ${f(b.rssMiB)} MiB: brk heap (main malloc arena) ${f(b.brkHeapMiB)}, ${b.arenas} thread arenas ${f(b.arenasMiB)}, other anonymous (V8 heaps, large malloc blocks, stacks) ${f(b.anonOtherMiB)} (of which mappings >= 1 MiB ${f(b.anonLargeMiB)}), node binary ${f(b.binaryMiB)}, other files ${f(b.filesMiB)}; ${b.threads.length} threads`;
}

function vmRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return line === undefined ? NaN : (Number(line.split(/\s+/)[1]) * KiB) / MiB;
}

/**
 * Asks glibc of process `pid` for malloc_stats() (printed on ITS stderr) and, with `trim`, calls malloc_trim(0);
 * returns the RSS before and after. Pauses the process while gdb is attached.
 */
export function mallocStats(pid: number, trim: boolean): { readonly rssBeforeMiB: number; readonly rssAfterMiB: number } | undefined {
  const before = vmRss(pid);
  const args = ['-p', String(pid), '-batch', '-ex', 'call (void)malloc_stats()'];
  if (trim) args.push('-ex', 'call (int)malloc_trim(0)');
  // gdb's exit status is not the call's (it may warn while detaching): a failure to start is what counts.
  const r = spawnSync('gdb', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error !== undefined) return undefined;
  return { rssBeforeMiB: before, rssAfterMiB: vmRss(pid) };
}

export interface IsolateHeap {
  readonly isolate: string;
  readonly gcs: number;
  /** After the last GC of each kind: live objects and the heap's memory, MB as V8 prints them (10^6 bytes). */
  readonly lastMarkCompact?: { readonly objectsMB: number; readonly memoryMB: number };
  readonly maxMemoryMB: number;
}

/** Per isolate, from `node --trace-gc` output. */
export function parseTraceGc(text: string): IsolateHeap[] {
  const by = new Map<string, { gcs: number; mc?: { objectsMB: number; memoryMB: number }; max: number }>();
  const re = /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^\d]*([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const e = by.get(m[1]!) ?? { gcs: 0, max: 0 };
    e.gcs++;
    e.max = Math.max(e.max, Number(m[4]), Number(m[6]));
    if (m[2] === 'Mark-Compact' || m[2] === 'Mark-sweep') e.mc = { objectsMB: Number(m[5]), memoryMB: Number(m[6]) };
    by.set(m[1]!, e);
  }
  return [...by].map(([isolate, e]) => ({ isolate, gcs: e.gcs, maxMemoryMB: e.max, ...(e.mc ? { lastMarkCompact: e.mc } : {}) }));
}

// CLI: `npx tsx test/bench/rss-breakdown.ts <pid>` (smaps now) or `... --trace-gc <log file>`.
if (process.argv[1]?.endsWith('rss-breakdown.ts')) {
  if (process.argv[2] === '--trace-gc') {
    for (const h of parseTraceGc(readFileSync(process.argv[3]!, 'utf8')))
      console.log(
        `isolate ${h.isolate}: ${h.gcs} GCs, heap memory max ${h.maxMemoryMB} MB; after the last full GC ${h.lastMarkCompact ? `${h.lastMarkCompact.objectsMB} MB objects in ${h.lastMarkCompact.memoryMB} MB` : '-'}`,
      );
  } else console.log(formatSmaps(smapsBreakdown(Number(process.argv[2]))));
}
