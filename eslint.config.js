// ESLint flat config (https://eslint.org/docs/latest/use/configure/configuration-files) with typescript-eslint's
// recommended rules (https://typescript-eslint.io/getting-started). `npm run lint`, and part of `npm test`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // The operator page's scripts are checked by their own tsconfig; the protobuf code is generated (npm run sparkplug:proto).
  { ignores: ['dist/', 'node_modules/', 'gateway/admin/web/ui/', 'gateway/sparkplug/proto/sparkplug_b_pb.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Unused arguments named _x are deliberate (interfaces implemented in part).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
