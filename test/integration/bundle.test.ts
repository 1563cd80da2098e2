import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The bundled build (dist/bundle/, `npm run build`; what `npm start` runs) keeps what the modular build loads late
 * in chunks of their own: what a chunk pulls in with a static import is loaded with it, before any of its code
 * runs. Read from the files themselves: each chunk's static imports, and the source files its source map names.
 * The resolve-hook test (startup-modules.test.ts) sees only what stays outside the bundle.
 */
const dir = join(process.cwd(), 'dist/bundle');
const files = readdirSync(dir).filter((f) => f.endsWith('.js'));

/** The files a chunk imports statically (`import ... from "./x.js"`, `import "./x.js"`, `export ... from "./x.js"`). */
function staticImports(file: string): string[] {
  const text = readFileSync(join(dir, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s*"\.\/([^"]+)"|^import\s*"\.\/([^"]+)"/gm)].map((m) => (m[1] ?? m[2])!);
}

/** The source files a chunk was made of, as its source map names them (relative to dist/bundle/). */
function sourcesOf(chunk: string): string[] {
  return (JSON.parse(readFileSync(join(dir, `${chunk}.map`), 'utf8')) as { sources: string[] }).sources;
}

/** The chunk and every chunk it loads statically, with the source files of them all. */
function loadedWith(file: string): { chunks: Set<string>; sources: string[] } {
  const chunks = new Set([file]);
  const queue = [file];
  while (queue.length > 0) {
    for (const next of staticImports(queue.pop()!)) {
      if (!chunks.has(next)) {
        chunks.add(next);
        queue.push(next);
      }
    }
  }
  const sources = [...chunks].flatMap(sourcesOf);
  return { chunks, sources };
}

/** The chunk whose own source map names `source` (a path under the repository, e.g. gateway/app.ts). */
function chunkOf(source: string): string {
  const found = files.filter((f) => sourcesOf(f).some((s) => s.endsWith(`../${source}`)));
  expect(found, source).toHaveLength(1);
  return found[0]!;
}

const has = (sources: readonly string[], part: string) => sources.some((s) => s.includes(part));

describe('the bundled build', () => {
  it('starts with the config and the gateway only: no admin app, Sparkplug codec or cluster code before the first CONNACK', () => {
    const main = loadedWith('main.js');
    const app = loadedWith(chunkOf('gateway/app.ts'));
    const config = loadedWith(chunkOf('gateway/config/load.ts'));
    const beforeConnack = [...main.sources, ...app.sources, ...config.sources];
    expect(has(app.sources, 'gateway/pipeline/pipeline.ts')).toBe(true); // the reading sees the gateway's own code
    expect(has(beforeConnack, 'node_modules/fastify/')).toBe(false);
    expect(has(beforeConnack, 'gateway/admin/server.ts')).toBe(false);
    expect(has(beforeConnack, 'node_modules/@bufbuild/protobuf/')).toBe(false);
    expect(has(beforeConnack, 'gateway/cluster/')).toBe(false);
    // The admin app is a chunk of its own, loaded by a dynamic import once MQTT is asked to listen.
    expect(has(loadedWith(chunkOf('gateway/admin/server.ts')).sources, 'node_modules/fastify/')).toBe(true);
  });

  it('runs the broker thread from its own entry, without the admin app or the pipeline', () => {
    const worker = loadedWith('broker-worker.js');
    expect(has(worker.sources, 'gateway/broker/thread/broker-worker.ts')).toBe(true);
    expect(has(worker.sources, 'node_modules/fastify/')).toBe(false);
    expect(has(worker.sources, 'gateway/pipeline/')).toBe(false);
  });

  it('loads aedes only after the code that adjusts mqtt-packet ran (quiet-debug.ts needs debug not loaded yet)', () => {
    // An import declaration of a chunk is evaluated before any of the chunk's code, so aedes and mqtt-packet (kept
    // outside the bundle) must not be imported by a declaration in any chunk the broker thread loads statically.
    const worker = loadedWith('broker-worker.js');
    expect(has(worker.sources, 'gateway/broker/quiet-debug.ts')).toBe(true);
    for (const chunk of worker.chunks) {
      const text = readFileSync(join(dir, chunk), 'utf8');
      expect(text, chunk).not.toMatch(/^import[^;]*?["'](aedes|mqtt-packet)["']/m);
    }
  });
});
