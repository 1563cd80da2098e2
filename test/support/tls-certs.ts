import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A throwaway CA, a server certificate for 127.0.0.1 and client certificates, made with the openssl CLI in `dir`:
 * `gh-cert` and `stranger` (CN not-registered) signed by the CA, and `rogue`, self-signed with gh-cert's CN.
 */
export function makeCerts(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca');
  const issue = (name: string, cn: string, ext?: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1'];
    if (ext) {
      writeFileSync(join(dir, `${name}.ext`), ext);
      args.push('-extfile', `${name}.ext`);
    }
    ssl(...args);
  };
  issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  issue('gh-cert', 'gh-cert');
  issue('stranger', 'not-registered');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.crt', '-days', '1', '-subj', '/CN=gh-cert');
  const read = (f: string) => readFileSync(join(dir, f));
  return { dir, ca: read('ca.crt'), clientCert: (name: string) => ({ cert: read(`${name}.crt`), key: read(`${name}.key`) }) };
}

export type TestCerts = ReturnType<typeof makeCerts>;

/** The gateway's mqtt.tls for the certificates makeCerts wrote in `dir`, on a free port. */
export function tlsListener(dir: string, requireClientCert: boolean) {
  return { port: 0, cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt'), requireClientCert };
}
