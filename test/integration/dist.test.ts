import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN, portsOf, prepareGateway, spawnGateway } from '../support/process.js';

/**
 * The build output runs on its own: dist/ copied away from the source tree (with only the installed
 * node_modules beside it) starts, runs its broker thread and serves the operator page's files.
 */
describe('dist/ on its own', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-dist-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts from a copy of dist/ and serves the operator page', async () => {
    const app = join(dir, 'app');
    cpSync(join(process.cwd(), 'dist'), join(app, 'dist'), { recursive: true });
    symlinkSync(join(process.cwd(), 'node_modules'), join(app, 'node_modules'), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
    const f = await prepareGateway(join(dir, 'run'), 'http://127.0.0.1:9', { mqtt: { brokerThread: 'on' } });
    const gp = await spawnGateway(f.configFile, { ports: portsOf(f), main: join(app, MAIN.slice(process.cwd().length + 1)) });
    try {
      const page = await fetch(`${gp.httpUrl}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      const style = await fetch(`${gp.httpUrl}/ui/style.css`);
      expect(style.status).toBe(200);
      expect(style.headers.get('content-type')).toMatch(/^text\/css/);
    } finally {
      expect(await gp.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    }
  });
});
