/**
 * Runs the ETL example and prints, batch by batch, whether each batch is loaded or quarantined and
 * why (`pnpm --filter @pgtrickle/example-etl-fuse-stats start`, or `pnpm demo`).
 */
import { runEtl } from './etl.js';

const run = runEtl();
for (const line of run.lines) console.log(line);
