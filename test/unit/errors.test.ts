import { describe, expect, it } from 'vitest';
import { DevicesFileError } from '../../gateway/auth/index.js';
import { RegistryEditError } from '../../gateway/auth/registry-file.js';
import { ConfigError } from '../../gateway/config/load.js';
import { ERRORS, GatewayError } from '../../gateway/errors.js';
import { ByteFormatError } from '../../gateway/persist/byte-codec.js';
import { DatabaseFileError } from '../../gateway/persist/sqlite.js';
import { PipelineSnapshotError } from '../../gateway/pipeline/snapshot-error.js';

describe('coded errors (gateway/errors.ts)', () => {
  it('every error class carries its code from the one list', () => {
    const errors: [GatewayError, string][] = [
      [new ConfigError('x.yaml', [{ path: 'a', message: 'b' }]), 'GATEWAY_CONFIG_INVALID'],
      [new DevicesFileError('bad'), 'GATEWAY_DEVICES_INVALID'],
      [new RegistryEditError('bad'), 'GATEWAY_REGISTRY_EDIT'],
      [new DatabaseFileError('bad', 'corrupt'), 'GATEWAY_DATABASE_FILE'],
      [new ByteFormatError('bad'), 'GATEWAY_BYTES_MALFORMED'],
      [new PipelineSnapshotError('bad'), 'GATEWAY_PIPELINE_SNAPSHOT'],
    ];
    for (const [err, code] of errors) {
      expect(err).toBeInstanceOf(GatewayError);
      expect(err.code).toBe(code);
      expect(Object.keys(ERRORS)).toContain(code);
    }
    expect(errors.map(([, code]) => code).sort()).toEqual(Object.keys(ERRORS).sort());
  });
});
