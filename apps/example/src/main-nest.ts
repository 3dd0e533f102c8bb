// The Nest app of the example as a process: `node dist/main-nest.js` (settings: see shared/env.ts).
import { startNestInstance } from './nest/start.js';
import { runFromEnv } from './shared/env.js';

await runFromEnv('nest', startNestInstance);
