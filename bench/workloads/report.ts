/**
 * Turns the raw samples of a run into the issue's table (measure | now | target | met), with the
 * rule of every row: ratios are taken per repetition (the same batch, interleaved), then the
 * median over repetitions; a row is "met" only when its target holds for every part it names.
 */

import type { CaptureSample } from './capture.js';
import { median, ms, ratio } from './common.js';
import { type ImmediateResult, overheadOf } from './immediate.js';
import type { LatencyResult } from './latency.js';
import type { NoopResult } from './noop.js';
import { FRACTIONS, METHODS, type Method, type RefreshSample, type TrimSample } from './refresh.js';
import type { TpchQueryResult } from './tpch/run.js';

/** Everything a run measured (absent: section not run). */
export interface RunData {
  refresh?: {
    samples: RefreshSample[];
    /** Absent in results written before the trim was taken by its own reader. */
    trims?: TrimSample[];
    sizes: { orders: number; customers: number; results: Record<string, number> };
  };
  capture?: { samples: CaptureSample[]; rows: number; commits: number };
  noop?: NoopResult;
  latency?: LatencyResult[];
  tick?: { tables: number; samples: number[] };
  tpch?: { orders: number; scale: { sf: number }; timeoutMs: number; queries: TpchQueryResult[] };
  immediate?: ImmediateResult;
}

/** One row of the issue table. */
export interface TableRow {
  readonly id: string;
  readonly measure: string;
  readonly now: string;
  readonly target: string;
  readonly met: boolean | null;
}

const pct = (f: number) => `${+(f * 100).toPrecision(3)}%`;
const QUERY_LABEL: Record<string, string> = { aggregate: 'agg', join: 'join', join_agg: 'join+agg' };

/** Median over repetitions of a / b for one query and fraction. */
function repRatio(
  s: RefreshSample[],
  q: string,
  f: number,
  a: (x: Map<Method, RefreshSample>) => number,
  b: (x: Map<Method, RefreshSample>) => number,
): number {
  const reps = [...new Set(s.filter((x) => x.query === q && x.fraction === f).map((x) => x.rep))];
  return median(
    reps.map((rep) => {
      const m = new Map(
        s.filter((x) => x.query === q && x.fraction === f && x.rep === rep).map((x) => [x.method, x]),
      );
      return a(m) / b(m);
    }),
  );
}

const t = (m: Map<Method, RefreshSample>, k: Method) => m.get(k)?.ms ?? Number.NaN;

/** The fraction where DIFFERENTIAL stops being cheaper than FULL (log-interpolated); 0 below the first, null above the last. */
export function crossover(s: RefreshSample[], q: string): number | null {
  const r = FRACTIONS.map((f) =>
    repRatio(
      s,
      q,
      f,
      (m) => t(m, 'differential'),
      (m) => t(m, 'full'),
    ),
  );
  for (let i = 0; i < r.length; i++) {
    if ((r[i] as number) >= 1) {
      if (i === 0) return 0;
      const [f0, f1, r0, r1] = [
        FRACTIONS[i - 1] as number,
        FRACTIONS[i] as number,
        Math.log(r[i - 1] as number),
        Math.log(r[i] as number),
      ];
      const w = (0 - r0) / (r1 - r0);
      return Math.exp(Math.log(f0) + w * (Math.log(f1) - Math.log(f0)));
    }
  }
  return null;
}

/** The issue's table from a run. */
export function issueTable(d: RunData): TableRow[] {
  const rows: TableRow[] = [];
  if (d.refresh) {
    const s = d.refresh.samples;
    const groups = d.refresh.sizes.results;
    const targets: Record<string, [number, string]> = {
      aggregate: [
        29,
        `aggregate (${groups.aggregate?.toLocaleString('en-US')} groups, count/sum/avg of numeric)`,
      ],
      join: [13, `join with filter (${groups.join?.toLocaleString('en-US')} result rows)`],
      join_agg: [33, `join + aggregate (${groups.join_agg} groups)`],
    };
    for (const [q, [target, label]] of Object.entries(targets)) {
      const mvDiff = repRatio(
        s,
        q,
        0.001,
        (m) => t(m, 'matview'),
        (m) => t(m, 'differential'),
      );
      const mvFloor = repRatio(
        s,
        q,
        0.001,
        (m) => t(m, 'matview'),
        (m) => t(m, 'floor'),
      );
      rows.push({
        id: `mv-diff-${q}`,
        measure: `REFRESH MATERIALIZED VIEW ÷ DIFFERENTIAL, 0.1% change: ${label}`,
        now: `${ratio(mvDiff)} (hand-written: ${ratio(mvFloor)})`,
        target: `≥ ${target}x`,
        met: mvDiff >= target,
      });
    }
    const floors = Object.keys(targets).map((q) =>
      repRatio(
        s,
        q,
        0.001,
        (m) => t(m, 'differential'),
        (m) => t(m, 'floor'),
      ),
    );
    rows.push({
      id: 'diff-floor',
      measure:
        'DIFFERENTIAL ÷ hand-written floor, 0.1% (algebraic MERGE of the changed groups; for the join, delete + re-insert of the changed ids)',
      now: Object.keys(targets)
        .map((q, i) => `${ratio(floors[i] as number)} ${QUERY_LABEL[q]}`)
        .join(', '),
      target: '≤ 1.5x',
      met: floors.every((x) => x <= 1.5),
    });
    const cross = Object.keys(targets).map((q) => crossover(s, q));
    rows.push({
      id: 'crossover',
      measure: 'crossover where FULL becomes cheaper than DIFFERENTIAL',
      now: Object.keys(targets)
        .map(
          (q, i) =>
            `${cross[i] === null ? `> ${pct(0.2)}` : cross[i] === 0 ? `< ${pct(FRACTIONS[0])}` : `≈${pct(cross[i] as number)}`} ${QUERY_LABEL[q]}`,
        )
        .join(', '),
      target: '≥ 10%',
      met: cross.every((c) => c === null || c >= 0.1),
    });
    let worst = { r: 0, q: '', f: 0 };
    const choices: string[] = [];
    for (const q of Object.keys(targets)) {
      const chosen: string[] = [];
      for (const f of FRACTIONS) {
        const r = repRatio(
          s,
          q,
          f,
          (m) => t(m, 'auto'),
          (m) => Math.min(t(m, 'full'), t(m, 'differential')),
        );
        if (r > worst.r) worst = { r, q, f };
        const acts = [
          ...new Set(
            s.filter((x) => x.query === q && x.fraction === f && x.method === 'auto').map((x) => x.action),
          ),
        ];
        chosen.push(
          `${pct(f)} ${acts.map((a) => (a === 'DIFFERENTIAL' ? 'D' : a === 'FULL' ? 'F' : a)).join('/')}`,
        );
      }
      choices.push(`${QUERY_LABEL[q]}: ${chosen.join(', ')}`);
    }
    rows.push({
      id: 'auto',
      measure: "AUTO's choice (AUTO ÷ the cheaper of FULL and DIFFERENTIAL, worst fraction)",
      now: `worst ${ratio(worst.r)} (${QUERY_LABEL[worst.q]} at ${pct(worst.f)}); chose ${choices.join('; ')}`,
      target: 'within 1.3x of the cheaper action at every fraction from 0.01% to 20%',
      met: worst.r <= 1.3,
    });
    const fm: number[] = [];
    for (const q of Object.keys(targets))
      for (const f of FRACTIONS)
        fm.push(
          repRatio(
            s,
            q,
            f,
            (m) => t(m, 'full'),
            (m) => t(m, 'matview'),
          ),
        );
    rows.push({
      id: 'full-mv',
      measure: 'our FULL ÷ REFRESH MATERIALIZED VIEW (every query and fraction)',
      now: `${ratio(Math.min(...fm))}–${ratio(Math.max(...fm))} (median ${ratio(median(fm))})`,
      target: '≤ 1.1x',
      met: Math.max(...fm) <= 1.1,
    });
  }
  if (d.capture) {
    const c = d.capture.samples;
    const amp = (op: CaptureSample['op']) => {
      const reps = [...new Set(c.map((x) => x.rep))];
      return median(
        reps.map((rep) => {
          const on = c.find((x) => x.op === op && x.rep === rep && x.tracked)?.ms ?? Number.NaN;
          const off = c.find((x) => x.op === op && x.rep === rep && !x.tracked)?.ms ?? Number.NaN;
          return on / off;
        }),
      );
    };
    const [i, u, del, one] = [amp('insert'), amp('update'), amp('delete'), amp('commit1')];
    rows.push({
      id: 'capture',
      measure: `capture write amplification, ${d.capture.rows.toLocaleString('en-US')}-row INSERT / UPDATE / DELETE statements`,
      now: `${ratio(i)} / ${ratio(u)} / ${ratio(del)}`,
      target: '≤ 1.3x / 1.5x / 2x',
      met: i <= 1.3 && u <= 1.5 && del <= 2,
    });
    rows.push({
      id: 'commit1',
      measure: `one-row INSERT commits (${d.capture.commits.toLocaleString('en-US')} in a row)`,
      now: ratio(one),
      target: '≤ 1.1x',
      met: one <= 1.1,
    });
    if (c.some((x) => x.op === 'commit0')) {
      const zero = amp('commit0');
      rows.push({
        id: 'commit0',
        measure: `autocommit UPDATEs matching no row (${d.capture.commits.toLocaleString('en-US')} in a row)`,
        now: ratio(zero),
        target: '≤ 1.1x (a statement touching no row should cost capture next to nothing)',
        met: zero <= 1.1,
      });
    }
  }
  if (d.noop) {
    const m = median(d.noop.samples);
    rows.push({
      id: 'noop',
      measure: 'zero-change `refresh()`',
      now: `${ms(m)} median (${ms(Math.min(...d.noop.samples))}–${ms(Math.max(...d.noop.samples))}), ${d.noop.statements} statements, ${d.noop.writes.length === 0 ? 'no writing statement' : `${d.noop.writes.length} writing statements`}, ${d.noop.walRecords} WAL records`,
      target: '≤ 2 ms, no writes',
      met: m <= 2 && d.noop.writes.length === 0 && d.noop.walRecords === 0,
    });
  }
  if (d.latency) {
    const l1 = d.latency.find((x) => x.schedule === '1s');
    const l0 = d.latency.find((x) => x.schedule === '0s');
    const m1 = median(l1?.samples ?? []);
    const m0 = median(l0?.samples ?? []);
    rows.push({
      id: 'latency',
      measure:
        'write → visible through a running TrickleService (`pgtrickle run`), 1 s schedule / `0s` schedule',
      now: `median ${ms(m1)} / ${ms(m0)}`,
      target: '≤ schedule + 50 ms; a `0s` schedule ≤ 50 ms median',
      met: m1 <= 1050 && m0 <= 50,
    });
  }
  if (d.tick) {
    const m = median(d.tick.samples);
    rows.push({
      id: 'tick',
      measure: `scheduler tick with ${d.tick.tables.toLocaleString('en-US')} idle stream tables`,
      now: `${ms(m)} median`,
      target: '≤ 20 ms',
      met: m <= 20,
    });
  }
  if (d.tpch) {
    const per = tpchRatios(d.tpch.queries);
    const measured = per.filter((p) => Number.isFinite(p.ratio));
    const faster = measured.filter((p) => p.ratio < 1).length;
    const worst = measured.reduce((a, b) => (b.ratio > a.ratio ? b : a), { query: '-', ratio: 0 });
    const refused = d.tpch.queries.filter((q) => q.refused !== null).map((q) => q.query);
    const timedOut = d.tpch.queries
      .filter((q) => q.refused === null && /timed out/u.test(q.stopped.differential ?? ''))
      .map((q) => q.query);
    rows.push({
      id: 'tpch',
      measure: `TPC-H 22 queries (${d.tpch.orders.toLocaleString('en-US')} orders, SF ${d.tpch.scale.sf.toPrecision(2)}), 0.1% change, DIFFERENTIAL step ÷ FULL refresh on the same data`,
      now: `DIFFERENTIAL faster on ${faster} of 22; median ${ratio(median(measured.map((p) => p.ratio)))}; worst ${worst.query} ${ratio(worst.ratio)}${refused.length ? `; refused in DIFFERENTIAL: ${refused.join(', ')}` : ''}${timedOut.length ? `; timed out: ${timedOut.join(', ')}` : ''}`,
      target:
        'on a ≥ 100,000-order data set: DIFFERENTIAL faster than FULL on ≥ 20 of 22, none worse than 1.5x',
      met: faster >= 20 && worst.ratio <= 1.5 && d.tpch.orders >= 100_000,
    });
  }
  if (d.immediate) {
    const im = d.immediate;
    const reps = [...new Set(im.samples.map((s) => s.rep))];
    const one = median(reps.map((rep) => overheadOf(im.samples, 'single', rep)));
    const many = median(reps.map((rep) => overheadOf(im.samples, 'batch', rep)));
    const plain = median(im.samples.filter((s) => s.op === 'single' && !s.immediate).map((s) => s.ms));
    const on = median(im.samples.filter((s) => s.op === 'single' && s.immediate).map((s) => s.ms));
    rows.push({
      id: 'immediate',
      measure: `IMMEDIATE write overhead (same UPDATE without a stream table = 1x), ${im.big.toLocaleString('en-US')}-row source joined to ${im.dim.toLocaleString('en-US')} rows: single-row UPDATE (autocommit) / ${im.batch.toLocaleString('en-US')}-row UPDATE`,
      now: `${ratio(one)} (${ms(on)} against ${ms(plain)}) / ${ratio(many)}`,
      target: 'single-row ≤ 1.5x (pg_ivm publishes 1.67x)',
      met: one <= 1.5,
    });
  }
  return rows;
}

/** Per TPC-H query: median over steps of DIFFERENTIAL ÷ FULL (NaN when not measured). */
export function tpchRatios(
  queries: readonly TpchQueryResult[],
): { query: string; ratio: number; diff: number; full: number; auto: number }[] {
  return queries.map((q) => {
    const steps = [...new Set(q.samples.map((s) => s.step))];
    const at = (step: number, m: string) =>
      q.samples.find((s) => s.step === step && s.method === m)?.ms ?? Number.NaN;
    return {
      query: q.query,
      ratio: median(steps.map((s) => at(s, 'differential') / at(s, 'full'))),
      diff: median(steps.map((s) => at(s, 'differential'))),
      full: median(steps.map((s) => at(s, 'full'))),
      auto: median(steps.map((s) => at(s, 'auto'))),
    };
  });
}

/** The markdown of a run: header, the issue table, then the detail tables. */
export function markdown(
  d: RunData,
  meta: Record<string, string>,
  bounds: Readonly<Record<string, string>>,
): string {
  const out: string[] = [];
  out.push(`# pgtrickle benchmark, ${meta.date} (${meta.mode})`, '');
  for (const [k, v] of Object.entries(meta)) if (k !== 'date' && k !== 'mode') out.push(`- ${k}: ${v}`);
  if (d.refresh && d.refresh.sizes.orders < 1_000_000) {
    out.push(
      `- scale: the refresh targets were set at 1,000,000 orders; at ${d.refresh.sizes.orders.toLocaleString('en-US')} a REFRESH MATERIALIZED VIEW costs about a tenth while a DIFFERENTIAL refresh's fixed cost does not shrink, so the MV ÷ DIFFERENTIAL ratios here understate the full-size ones`,
    );
  }
  if (d.tpch && d.tpch.orders < 100_000) {
    out.push(
      `- TPC-H at ${d.tpch.orders.toLocaleString('en-US')} orders: the target is stated for ≥ 100,000 orders`,
    );
  }
  out.push('', '| measure | now | target | met | bounded by (when not met) |', '|---|---|---|---|---|');
  for (const r of issueTable(d)) {
    out.push(
      `| ${r.measure} | ${r.now} | ${r.target} | ${r.met === null ? '—' : r.met ? 'met' : 'not met'} | ${r.met ? '' : (bounds[r.id] ?? '')} |`,
    );
  }
  if (d.refresh) {
    out.push(
      '',
      '## Refresh workload: median ms per method',
      '',
      `| query | change | ${METHODS.join(' | ')} | AUTO chose |`,
      `|---|---|${METHODS.map(() => '---').join('|')}|---|`,
    );
    for (const q of Object.keys(d.refresh.sizes.results)) {
      for (const f of FRACTIONS) {
        const s = d.refresh.samples.filter((x) => x.query === q && x.fraction === f);
        const cells = METHODS.map((m) => ms(median(s.filter((x) => x.method === m).map((x) => x.ms))));
        const acts = [...new Set(s.filter((x) => x.method === 'auto').map((x) => x.action))].join('/');
        out.push(`| ${q} | ${pct(f)} | ${cells.join(' | ')} | ${acts} |`);
      }
    }
    const trims = d.refresh.trims ?? [];
    if (trims.length > 0) {
      out.push(
        '',
        'The change buffer of `orders` is shared by every stream table above; the refresh that makes its last',
        'reader pass a batch deletes the batch from it. That reader is an extra FULL table refreshed after the',
        "methods (so the trim is charged to none of them); a source with a single reader pays it in that reader's",
        'refresh. Median ms of that last refresh, trim included:',
        '',
        `| change | ${FRACTIONS.map(pct).join(' | ')} |`,
        `|---|${FRACTIONS.map(() => '---').join('|')}|`,
        `| last reader + trim | ${FRACTIONS.map((f) => ms(median(trims.filter((x) => x.fraction === f).map((x) => x.ms)))).join(' | ')} |`,
      );
    }
  }
  if (d.tpch) {
    out.push(
      '',
      '## TPC-H: median ms per refresh over the change steps',
      '',
      '| query | DIFFERENTIAL | FULL | DIFF ÷ FULL | AUTO (mode) | note |',
      '|---|---|---|---|---|---|',
    );
    for (const r of tpchRatios(d.tpch.queries)) {
      const q = d.tpch.queries.find((x) => x.query === r.query) as TpchQueryResult;
      const note =
        q.refused !== null
          ? `DIFFERENTIAL refused: ${q.refused.split('.')[0]}`
          : Object.entries(q.stopped)
              .map(([m, why]) => `${m}: ${why}`)
              .join('; ');
      out.push(
        `| ${r.query} | ${ms(r.diff)} | ${ms(r.full)} | ${ratio(r.ratio)} | ${ms(r.auto)} (${q.autoMode.split(' ')[0]}) | ${note.replaceAll('|', '/')} |`,
      );
    }
  }
  if (d.noop) {
    out.push(
      '',
      '## Statements of one zero-change `refresh()` (pg_stat_statements, top level)',
      ...(d.noop.oneRow
        ? [
            '',
            `For comparison, a DIFFERENTIAL refresh of one inserted row: ${d.noop.oneRow.statements} statements, ${d.noop.oneRow.writes} of them writing (DML/DDL), ${ms(d.noop.oneRow.ms)}.`,
          ]
        : []),
      '',
      '| calls | WAL records | statement |',
      '|---|---|---|',
    );
    for (const s of d.noop.all)
      out.push(
        `| ${s.calls} | ${s.wal} | \`${s.query.replace(/\s+/gu, ' ').slice(0, 140).replaceAll('|', '/')}\` |`,
      );
  }
  return `${out.join('\n')}\n`;
}
