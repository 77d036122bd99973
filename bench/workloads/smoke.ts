import { BenchServer } from './common.js';
import { runRefreshWorkload } from './refresh.js';
const s = await BenchServer.start();
try {
  const r = await runRefreshWorkload(s, { quick: true, only: [], reps: 1 });
  console.log(JSON.stringify(r.sizes), r.samples.length);
} finally {
  await s.stop();
}
