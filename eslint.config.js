// Flat config: typescript-eslint's recommended rules plus the few the style guide asks for.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['scratch/**', 'dist/**', 'dist-test/**', 'dist-pkg/**', 'node_modules/**', 'bench/results/**', '.clinic/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }],
      // Validators here match control characters on purpose.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(fs|net|http|https|os|path|crypto|stream|events|util|worker_threads|tls|child_process|url|assert|readline|zlib|dns|perf_hooks|timers|diagnostics_channel)(/.*)?$', message: 'Use the node: specifier.' }] }],
    },
  },
  {
    // The emulator console's page scripts (src/sim/console/assets): plain browser ES modules.
    files: ['src/sim/console/assets/**/*.js'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', location: 'readonly', fetch: 'readonly', WebSocket: 'readonly', TextEncoder: 'readonly', URLSearchParams: 'readonly', Node: 'readonly', globalThis: 'readonly' } },
  },
);
