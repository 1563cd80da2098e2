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

/** Next to this module: gateway/admin/web/ui/ in the source tree, and its copy in dist/ (`npm run build` copies it). */
export function uiDir(): string {
  const dir = fileURLToPath(new URL('./ui/', import.meta.url));
  if (!existsSync(join(dir, 'index.html'))) throw new Error(`operator page files not found in ${dir}: run \`npm run build\``);
  return dir;
}

export function loadAssets(dir = uiDir()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type !== undefined) assets.set(name, { body: readFileSync(join(dir, name)), type });
  }
  return assets;
}
