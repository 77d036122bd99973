import { BenchServer } from './common.js';
import { runTpchWorkload } from './tpch/run.js';
const s = await BenchServer.start();
try {
  const r = await runTpchWorkload(s, { quick: true, only: [], reps: 1 });
  console.log(JSON.stringify(r.queries.map((q) => [q.query, q.refused, q.autoMode, q.stopped])));
} finally {
  await s.stop();
}
