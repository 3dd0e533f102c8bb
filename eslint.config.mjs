// Lint rules, and the module boundaries that encode the architecture:
// - the core never imports a web framework nor an adapter;
// - the Nest and Express adapters import the core (by its package name) and never each other;
// - kafkajs is imported only inside the core's Kafka adapter (libs/core/src/log/kafka/);
// - the contract suite (libs/core/src/conformance/) is loaded by no other core module, and
//   reaches a log only through the port;
// - nothing imports a package's src/ from outside that package; the example app and the tests
//   use package entry points.
// File-level checks the linter cannot express live in test/integration/boundaries.test.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const adapterOf = (name) => ({
  group: [`@nearcache/${name}`, `@nearcache/${name}/*`],
  message: `an adapter never imports another adapter (@nearcache/${name}); share code through @nearcache/core`,
});
const frameworks = [{ group: ['@nestjs/*', 'express', 'express/*', 'fastify', 'rxjs', 'rxjs/*'], message: 'the core depends on no web framework' }];
const sourceOfAPackage = {
  group: ['**/libs/*/src', '**/libs/*/src/**', '**/core/src/**', '**/nestjs/src/**', '**/express/src/**', '@nearcache/*/src', '@nearcache/*/src/**'],
  message: "import a package's entry point (@nearcache/core, ...), not its src/",
};
const contractSuite = {
  group: ['**/conformance', '**/conformance/**'],
  message: 'the contract suite is test support: the cache never loads it (its entry is @nearcache/core/conformance)',
};
const kafkaAdapter = {
  group: ['**/log/kafka', '**/log/kafka/**', '**/log/kafka.js'],
  message: 'the contract suite drives a log through the ReplicationLog port, never an adapter',
};
const kafkajs = { name: 'kafkajs', message: 'kafkajs is imported only by the Kafka adapter (libs/core/src/log/kafka/): go through the ReplicationLog port' };

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.nx/**', '.kafka/**', '**/*.d.ts', '**/*.d.mts', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        clearImmediate: 'readonly',
        queueMicrotask: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
        AbortController: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        Response: 'readonly',
        Request: 'readonly',
        Headers: 'readonly',
        ReadableStream: 'readonly',
        globalThis: 'readonly',
        BigInt: 'readonly',
        WeakRef: 'readonly',
        FinalizationRegistry: 'readonly',
        Blob: 'readonly',
        crypto: 'readonly',
      },
    },
    rules: {
      // Decorated Nest code and option bags take `any` where the framework does.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // lru-cache constrains its values to `{}` (any non-nullish value): the cache's store says so.
      '@typescript-eslint/no-empty-object-type': 'off',
      // Typed events: `interface NearCache { on<E>(...) }` merged with the class of the same name.
      '@typescript-eslint/no-unsafe-declaration-merging': 'off',
      // Keys and prefixes refuse NUL and other control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    // The CommonJS entries load the ES modules with require(esm).
    files: ['**/*.cjs', 'test/compat/apps/*-cjs/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', exports: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Test methods declare parameters for their names (key templates read them), not to use them.
    files: ['libs/*/test/**', 'test/**'],
    rules: { '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_', caughtErrors: 'none' }] },
  },
  {
    files: ['libs/core/src/**'],
    ignores: ['libs/core/src/log/kafka/**', 'libs/core/src/conformance/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [kafkajs], patterns: [...frameworks, adapterOf('nestjs'), adapterOf('express'), sourceOfAPackage, contractSuite] },
      ],
    },
  },
  {
    files: ['libs/core/src/log/kafka/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...frameworks, adapterOf('nestjs'), adapterOf('express'), sourceOfAPackage, contractSuite] }] },
  },
  {
    // The contract suite (test support, its own entry point) checks any log through the port.
    files: ['libs/core/src/conformance/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [kafkajs], patterns: [...frameworks, adapterOf('nestjs'), adapterOf('express'), sourceOfAPackage, kafkaAdapter] },
      ],
    },
  },
  {
    // Nest's own types (class references, reflected metadata) are `Function`.
    files: ['libs/nestjs/**'],
    rules: { '@typescript-eslint/no-unsafe-function-type': 'off' },
  },
  {
    files: ['libs/nestjs/src/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [kafkajs], patterns: [adapterOf('express'), sourceOfAPackage] }] },
  },
  {
    files: ['libs/express/src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [kafkajs],
          patterns: [adapterOf('nestjs'), { group: ['@nestjs/*'], message: 'the Express adapter does not depend on Nest' }, sourceOfAPackage],
        },
      ],
    },
  },
  {
    files: ['libs/sidecar/src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [kafkajs], patterns: [...frameworks, adapterOf('nestjs'), adapterOf('express'), sourceOfAPackage, contractSuite] },
      ],
    },
  },
  {
    // The command-line tool reads a topic with its own kafkajs clients, through the core's record and option checks.
    files: ['libs/cli/src/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...frameworks, adapterOf('nestjs'), adapterOf('express'), sourceOfAPackage] }] },
  },
  {
    files: ['apps/**', 'test/**', 'bench/**', 'libs/*/test/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [sourceOfAPackage] }] },
  },
);
