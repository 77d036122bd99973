/**
 * `pnpm bench --explain`: where the time of the slow paths goes, for the "bounded by" notes of
 * the issue table. On a server with auto_explain (ANALYZE, nested statements, every statement
 * over 5 ms logged), at the --quick scale (PGTRICKLE_BENCH_EXPLAIN_ORDERS sets another): one 0.1% batch, then a DIFFERENTIAL, an AUTO and a
 * FULL refresh of each refresh-workload query and a REFRESH MATERIALIZED VIEW; a 10,000-row
 * DELETE on a captured table; the TPC-H (3,000 orders) DIFFERENTIAL refreshes of the queries named
 * in PGTRICKLE_BENCH_EXPLAIN_TPCH (default q21,q20,q09), and a FULL refresh of each, after a few
 * changed orders (PGTRICKLE_BENCH_EXPLAIN_TPCH_ORDERS sets the size; `--explain tpch` runs only
 * this part, into `…-explain-tpch.txt`). Writes each logged
 * statement (duration, text, the plan's costliest nodes) to
 * `bench/results/<date>-<machine>-explain.txt`.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Trickle } from '../../packages/client/src/index.js';
import { BenchServer, progress } from './common.js';
import { applyBatch, QUERIES, setupRefreshData } from './refresh.js';
import { generateTpch } from './tpch/generate.js';
import { TPCH_QUERIES } from './tpch/queries.js';
import { applyStep } from './tpch/run.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The refresh workload's refreshes (--quick scale unless PGTRICKLE_BENCH_EXPLAIN_ORDERS), and a captured DELETE. */
async function explainRefreshes(t: Trickle, setLabel: (label: string) => void): Promise<void> {
  const pool = t.db.pool;
  const orders = Number(process.env.PGTRICKLE_BENCH_EXPLAIN_ORDERS ?? 100_000);
  progress(`explain: refresh workload, ${orders} orders`);
  await setupRefreshData(t, orders, orders / 10);
  await applyBatch(pool, orders / 1000, 0.5, 2_000_000_000, orders / 10);
  for (const q of QUERIES) {
    setLabel(`${q.name}: DIFFERENTIAL refresh, 0.1%`);
    await t.refresh(`st_diff_${q.name}`);
    setLabel(`${q.name}: AUTO refresh, 0.1%`);
    await t.refresh(`st_auto_${q.name}`);
    setLabel(`${q.name}: FULL refresh`);
    await t.refresh(`st_full_${q.name}`);
    setLabel(`${q.name}: REFRESH MATERIALIZED VIEW`);
    await pool.query(`REFRESH MATERIALIZED VIEW mv_${q.name}`);
  }
  setLabel('capture: DELETE of 10,000 rows of a captured table');
  await pool.query('CREATE TABLE cap (id int PRIMARY KEY, g int NOT NULL, v numeric(12,2) NOT NULL)');
  await t.createStreamTable({ name: 'cap_st', query: 'SELECT g, count(*) AS n FROM cap GROUP BY g' });
  await pool.query('INSERT INTO cap SELECT g, g % 100, g FROM generate_series(1, 10000) g');
  await pool.query('DELETE FROM cap');
  setLabel('setup');
}

/**
 * The plan nodes that took the most time themselves (their actual total time × loops minus their
 * children's), from auto_explain's text plan; the first six, with their own milliseconds (CTE
 * scans left out: their time includes their CTE's nodes, which are counted themselves).
 */
function costliest(plan: readonly string[]): string[] {
  const nodes: { indent: number; total: number; own: number; text: string }[] = [];
  for (const line of plan) {
    const m = /actual time=[\d.]+\.\.([\d.]+) rows=[\d.]+ loops=(\d+)/u.exec(line);
    if (m === null) continue;
    const indent = line.search(/\S/u);
    const total = Number(m[1]) * Number(m[2]);
    const text = line
      .trim()
      .replace(/^->\s*/u, '')
      .replace(/\s*\(cost=.*$/u, '');
    nodes.push({ indent, total, own: total, text });
  }
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i] as (typeof nodes)[number];
    // Direct children: the deeper nodes up to the first at n's depth or less that are not inside
    // another of them (no node between n and it is indented less than it).
    let shallowest = Number.POSITIVE_INFINITY;
    for (let j = i + 1; j < nodes.length && (nodes[j] as (typeof nodes)[number]).indent > n.indent; j++) {
      const c = nodes[j] as (typeof nodes)[number];
      if (c.indent <= shallowest) {
        n.own -= c.total;
        shallowest = c.indent;
      }
    }
  }
  // A CTE Scan's time includes running its (materialized) CTE, whose nodes are listed too: left out.
  return nodes
    .filter((n) => !n.text.startsWith('CTE Scan'))
    .sort((a, b) => b.own - a.own)
    .slice(0, 6)
    .map((n) => `${Math.max(0, n.own).toFixed(1)} ms  ${n.text.slice(0, 200)}`);
}

/** One auto_explain entry: the lines of one logged statement. */
interface Entry {
  label: string;
  lines: string[];
}

export async function runExplain(tpchOnly = false): Promise<void> {
  const entries: Entry[] = [];
  let label = 'setup';
  let current: Entry | null = null;
  const server = await BenchServer.start(
    {
      session_preload_libraries: 'auto_explain',
      'auto_explain.log_min_duration': 5,
      'auto_explain.log_analyze': true,
      'auto_explain.log_nested_statements': true,
      'auto_explain.log_timing': true,
    },
    (line) => {
      if (/LOG:\s+duration: [\d.]+ ms\s+plan:/u.test(line)) {
        current = { label, lines: [line.replace(/^.*LOG:\s+/u, '')] };
        if (label !== 'setup') entries.push(current);
      } else if (/(LOG|ERROR|WARNING|STATEMENT|DETAIL|HINT|CONTEXT):/u.test(line)) current = null;
      else (current as Entry | null)?.lines.push(line);
    },
  );
  try {
    const { trickle: t } = await server.database('bench_explain');
    if (!tpchOnly)
      await explainRefreshes(t, (l) => {
        label = l;
      });
    await t.close();
    const orders = Number(process.env.PGTRICKLE_BENCH_EXPLAIN_TPCH_ORDERS ?? 3_000);
    progress(`explain: TPC-H ${orders} orders`);
    const { trickle: tp } = await server.database('bench_explain_tpch');
    await generateTpch(tp.db.pool, orders);
    const names = (process.env.PGTRICKLE_BENCH_EXPLAIN_TPCH ?? 'q21,q20,q09').split(',');
    for (const n of names) {
      await tp.createStreamTable({
        name: `d_${n}`,
        query: TPCH_QUERIES[n] as string,
        refreshMode: 'DIFFERENTIAL',
      });
      await tp.createStreamTable({ name: `f_${n}`, query: TPCH_QUERIES[n] as string, refreshMode: 'FULL' });
    }
    await applyStep(tp.db.pool, 0, orders, orders + 1);
    for (const n of names) {
      label = `TPC-H ${n}: DIFFERENTIAL refresh`;
      await tp.refresh(`d_${n}`);
      label = `TPC-H ${n}: FULL refresh`;
      await tp.refresh(`f_${n}`);
    }
    label = 'setup';
    await tp.close();
  } finally {
    await server.stop();
  }
  const out: string[] = [];
  for (const l of [...new Set(entries.map((e) => e.label))]) {
    out.push(`=== ${l}`);
    const es = entries.filter((e) => e.label === l);
    const ms = (e: Entry) => Number(/duration: ([\d.]+) ms/u.exec(e.lines[0] ?? '')?.[1] ?? 0);
    const total = es.reduce((a, e) => a + ms(e), 0);
    out.push(`${es.length} statements over 5 ms, ${total.toFixed(1)} ms in all`);
    for (const e of es.sort((a, b) => ms(b) - ms(a)).slice(0, 4)) {
      // The statement's first line, then its plan (from the first plan node on).
      const plan = e.lines.findIndex((x) => /\(cost=/u.test(x));
      out.push(`--- ${e.lines[0]}`, `    ${(e.lines[1] ?? '').trim().slice(0, 200)}`);
      if (plan >= 0) {
        out.push('    costliest plan nodes (own time = total × loops − children; CTE scans left out):');
        out.push(...costliest(e.lines.slice(plan)).map((x) => `      ${x}`));
      }
    }
  }
  const machine = process.env.PGTRICKLE_BENCH_MACHINE ?? os.hostname();
  const file = path.join(
    root,
    'bench',
    'results',
    `${new Date().toISOString().slice(0, 10)}-${machine}-explain${tpchOnly ? '-tpch' : ''}.txt`,
  );
  writeFileSync(file, `${out.join('\n')}\n`);
  progress(`wrote ${path.relative(root, file)} (${entries.length} statements logged)`);
}
