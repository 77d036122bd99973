/**
 * Runs the custom-scheduler simulation and prints, tick by tick, which tables refresh, skip or
 * block and why (`pnpm --filter @pgtrickle/example-custom-scheduler start`, or `pnpm demo`).
 */
import { runCustomScheduler } from './scheduler.js';

const log = await runCustomScheduler();
for (const line of log.lines) console.log(line);
