// The Express app of the example as a process: `node dist/main-express.js` (settings: see shared/env.ts).
import { startExpressInstance } from './express/app.js';
import { runFromEnv } from './shared/env.js';

await runFromEnv('express', startExpressInstance);
