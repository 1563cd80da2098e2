import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starting the broker thread's Worker, apart from the rest of the broker thread (broker-thread.ts) so that main.ts
 * can start it before it loads anything else: this module imports only Node's own modules. The Worker loads aedes,
 * its listeners and the device auth while the gateway thread loads its config and its own modules, and waits for
 * its configuration (the `init` message, protocol.ts) before it builds anything (BENCHMARKS.md, start-up).
 */

/** mqtt.brokerThread: `auto` gives aedes a thread of its own when the machine has a core to spare. */
export function useBrokerThread(mode: 'auto' | 'on' | 'off'): boolean {
  return mode === 'on' || (mode === 'auto' && availableParallelism() > 1);
}

/**
 * The broker thread's young generation: aedes' garbage is short-lived (a packet, its buffers), so small
 * semi-spaces collect it as well, and a second isolate with V8's default (up to 48 MiB) costs RSS an edge box
 * would rather spend on sensor state (BENCHMARKS.md, memory).
 */
const YOUNG_MB = 12;

/**
 * The worker's module in the same form as this one: the compiled sibling in dist/, or, when this runs from source
 * (vitest, tsx), the .ts sibling loaded through tsx's `tsImport` (tsx docs, "Node.js API"), so tests never run a
 * stale dist/. Node 20 does not apply `--import tsx` to a worker's own entry file, hence the small eval entry. In
 * the bundled build every chunk sits in dist/bundle/, beside the bundle's own worker entry of that name (package.json
 * `bundle`, `--entry-names=[name]`), so the sibling is that entry there too.
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  const compiled = new URL('./broker-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return { entry: compiled, eval: false };
  const source = JSON.stringify(new URL('./broker-worker.ts', import.meta.url).href);
  return { entry: `import('tsx/esm/api').then((tsx) => tsx.tsImport(${source}, ${source}))`, eval: true };
}

/**
 * A broker thread that is loading its modules and waits for its configuration. Taken by one BrokerThread
 * (broker-thread.ts), which sends it the `init` message; until then it does not keep the process alive, and an
 * error or exit of the thread is kept for the taker (a Worker's `error` event without a listener would throw).
 */
export class BrokerWorker {
  readonly worker: Worker;
  private taken = false;
  private early: Error | undefined;
  private readonly onEarly = (err: Error) => void (this.early ??= err);
  private readonly onEarlyExit = (code: number) => void (this.early ??= new Error(`broker thread exited with code ${code}`));

  constructor() {
    const entry = workerEntry();
    this.worker = new Worker(entry.entry, { eval: entry.eval, name: 'broker', resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
    this.worker.unref();
    this.worker.on('error', this.onEarly);
    this.worker.on('exit', this.onEarlyExit);
  }

  /**
   * Hands the thread to its owner, once: from now on the owner's listeners see its events, and it keeps the
   * process alive. `failed` is the error or exit that came before, if any.
   */
  take(): { readonly worker: Worker; readonly failed: Error | undefined } {
    if (this.taken) throw new Error('the broker thread is already taken');
    this.taken = true;
    this.worker.off('error', this.onEarly);
    this.worker.off('exit', this.onEarlyExit);
    this.worker.ref();
    return { worker: this.worker, failed: this.early };
  }

  /** Ends the thread when nobody took it (mqtt.brokerThread off, or the build failed before the broker). */
  discard(): void {
    if (this.taken) return;
    this.taken = true;
    void this.worker.terminate().catch(() => undefined);
  }
}
