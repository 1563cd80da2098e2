import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** `npm run test:soak`: the 100-second soak (test/soak/), kept out of `npm test`; `.ci/run` runs it after. */
export default defineConfig({ test: { ...base.test, include: ['test/soak/**/*.test.ts'] } });
