// Loaded with `--import` into the test processes (vitest.config.ts, execArgv), and so into every
// worker thread they start: worker threads started from the sources (the replication worker,
// libs/core/src/log/worker/entry.ts) run their TypeScript through the hooks next to this file.
// Registered on every thread (Node.js 20 can crash when only workers register hooks); on the
// main thread vitest loads the sources itself, and the hooks only pass its imports on.
import { register } from 'node:module';

register(new URL('./worker-threads-ts-hooks.mjs', import.meta.url));
