// Architecture boundaries, enforced by lint: imports point one way, ui → store → worker → core, and cli → core.
// A layer may not import a layer above it; the main thread reaches the worker only through its types.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (name) => [`**/${name}`, `**/${name}/*`, `**/${name}/**`];
const msg = (from, to) =>
  `${from} must not import ${to}: imports point one way (ui → store → worker → core; cli → core).`;

function restrict(paths, typeOnlyOk = []) {
  return {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: [
          ...paths.map(([group, message]) => ({ group, message })),
          ...typeOnlyOk.map(([group, message]) => ({ group, message, allowTypeImports: true })),
        ],
      },
    ],
  };
}

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.cache/**',
      'out/**',
      'test-results/**',
      'playwright-report/**',
      'public/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Functions one phase long (issue 11): a function over 80 lines runs several phases; split it into named ones.
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    ignores: ['src/**/*.test.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, IIFEs: true }] },
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['src/core/**/*.test.ts'],
    rules: restrict([
      [[...layer('worker'), ...layer('store'), ...layer('ui'), ...layer('cli')], msg('core', 'worker/store/ui/cli')],
      [
        ['react', 'react-dom', 'react/*', 'comlink', 'zustand', 'zustand/*', '@xyflow/*'],
        'core is pure TypeScript: no React, no comlink, no store, no graph drawing.',
      ],
      [
        ['node:*', 'fs', 'path', 'os', 'child_process'],
        'core runs in the browser worker too: no Node built-ins (do file I/O in src/cli).',
      ],
      [
        ['@techstark/*', 'opencv*'],
        'core gets its engine handed in (Engine in core/check/types.ts): no OpenCV import.',
      ],
    ]),
  },
  {
    // Tests of core run in Node and may read files; they still may not reach up the layers.
    files: ['src/core/**/*.test.ts'],
    rules: restrict([
      [[...layer('worker'), ...layer('store'), ...layer('ui'), ...layer('cli')], msg('core', 'worker/store/ui/cli')],
    ]),
  },
  {
    files: ['src/worker/**/*.ts'],
    rules: restrict([
      [[...layer('store'), ...layer('ui'), ...layer('cli')], msg('worker', 'store/ui/cli')],
      [['react', 'react-dom', 'react/*', 'zustand', 'zustand/*', '@xyflow/*'], 'the worker has no UI.'],
    ]),
  },
  {
    files: ['src/store/**/*.ts', 'src/store/**/*.tsx'],
    rules: restrict(
      [[[...layer('ui'), ...layer('cli')], msg('store', 'ui/cli')]],
      [[layer('worker'), 'the main thread imports only the worker API type (import type); the worker runs its code.']],
    ),
  },
  {
    files: ['src/ui/**/*.ts', 'src/ui/**/*.tsx'],
    rules: restrict(
      [
        [[...layer('cli')], msg('ui', 'cli')],
        [['comlink'], 'ui talks to the worker through the store only.'],
      ],
      [
        [layer('worker'), 'ui may import worker types only.'],
        [
          ['**/core/**', '!**/core/display', '!**/core/display/**'],
          'ui may import core types, and value helpers only from core/display.',
        ],
      ],
    ),
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: restrict([[[...layer('worker'), ...layer('store'), ...layer('ui')], msg('cli', 'worker/store/ui')]]),
  },
);
