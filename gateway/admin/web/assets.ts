import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The operator page's files (gateway/admin/web/ui/: hand-written HTML, CSS and ES modules; no bundler, no CDN).
 * Read once when the admin app is built and served from memory, so a request can never name a file on disk.
 */
export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Where the files are: next to this module when running from source (tsx, vitest), or, when running the
 * compiled dist/gateway/admin/web/assets.js (tsc copies no .js/.html), in the source tree it was built from.
 */
export function uiDir(): string {
  const here = fileURLToPath(new URL('./ui/', import.meta.url));
  const candidates = [here, fileURLToPath(new URL('../../../../gateway/admin/web/ui/', import.meta.url))];
  const found = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (found === undefined) throw new Error(`operator page files not found (looked in ${candidates.join(', ')})`);
  return found;
}

export function loadAssets(dir = uiDir()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type !== undefined) assets.set(name, { body: readFileSync(join(dir, name)), type });
  }
  return assets;
}
