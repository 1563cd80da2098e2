import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { YAML_LIMITS } from './safe-yaml.js';

/**
 * Reads a text file the gateway parses (config, rules, devices), refusing one larger than `maxBytes` from its size
 * before reading it: a log redirected into the rules file by mistake must not be loaded into memory to be refused.
 * Throws like readFileSync (ENOENT, EACCES, ...); too large is an Error with code EFBIG, whose message says so.
 */
export function readBoundedText(path: string, maxBytes: number = YAML_LIMITS.maxBytes): string {
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size > maxBytes) {
      throw Object.assign(new Error(`the file is ${size} bytes, more than the limit of ${maxBytes} bytes`), { code: 'EFBIG' });
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
