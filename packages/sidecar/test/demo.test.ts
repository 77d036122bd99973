/**
 * `pgtrickle demo` as a real process: against the test database (`--database-url`), and with its
 * own embedded PostgreSQL 18 in a temporary data directory — re-used by the next run, including
 * after a demo was SIGKILLed and left its server running. Every run exits 0 and every verification
 * round finds every stream table equal to its query.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isProcessAlive } from '@pgtrickle/embedded';
import { useTestDatabase } from '@pgtrickle/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { captureIo } from './support/io.js';
import { type CliProcess, killAll, runCli, startCli } from './support/process.js';

const db = useTestDatabase();
const processes: CliProcess[] = [];
// As root, PostgreSQL runs as another OS user: the directory must be traversable by it.
const base = mkdtempSync(path.join(os.tmpdir(), 'pgt-demo-test-'));
chmodSync(base, 0o755);

afterAll(async () => {
  await killAll(processes);
  // A server a failed test left running on the data directory.
  const pidFile = path.join(base, 'demo', 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (isProcessAlive(pid)) process.kill(pid, 'SIGQUIT');
  }
  rmSync(base, { recursive: true, force: true });
});

function expectAllFresh(stdout: string): void {
  const rounds = stdout.split('\n').filter((l) => l.startsWith('round '));
  expect(rounds.length, stdout).toBeGreaterThanOrEqual(2);
  for (const r of rounds)
    expect(r).toMatch(
      /^round \d+: writer paused, caught up in .*, all 7 stream tables equal their queries ✓$/,
    );
  expect(stdout).toContain('every table equalled its query every time ✓');
  expect(stdout).not.toContain('✗');
  expect(stdout).not.toContain('writer transaction(s) failed');
}

describe('pgtrickle demo', () => {
  it('runs against a configured database and keeps every table equal to its query', async () => {
    const r = await runCli(['demo', '--duration', '8', '--database-url', db.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pgtrickle demo on PostgreSQL 18\.\d+ \(postgres:\/\/postgres:\*\*\*@/);
    for (const t of [
      'order_lines',
      'revenue_by_product',
      'revenue_by_country',
      'top_products',
      'orders_per_customer',
      'spend_per_customer',
      'customer_summary',
    ])
      expect(r.stdout).toContain(`  ${t} `);
    expect(r.stdout).toMatch(/^\[ {2}\ds\] writes=\d+ fresh=\d\/7 order_lines=\d+/m);
    expectAllFresh(r.stdout);
    const modes = await db.query(
      `SELECT table_name, effective_mode FROM pgtrickle.pgt_stream_tables WHERE schema_name = 'pgtrickle_demo' ORDER BY pgt_id`,
    );
    expect(modes.rows).toHaveLength(7);
  }, 120_000);

  it('refuses a pgtrickle_demo schema it did not create', async () => {
    await db.query(`COMMENT ON SCHEMA pgtrickle_demo IS 'mine'`);
    const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url, PGTRICKLE_LOG_LEVEL: 'warn' } });
    expect(await main(['demo', '--duration', '1'], io)).toBe(1);
    expect(io.stderrText()).toMatch(
      /^pgtrickle demo: PGT_DEMO_SCHEMA_TAKEN: The schema pgtrickle_demo exists and was not created by pgtrickle demo/,
    );
  });

  it("moves its default data directory to the temp dir when PostgreSQL's OS user cannot reach it", async () => {
    // A clone under /root run as root: the current directory is closed to the postgres OS user.
    const closed = mkdtempSync(path.join(os.tmpdir(), 'pgt-demo-closed-'));
    chmodSync(closed, 0o700);
    try {
      const r = await runCli(['demo', '--duration', '6'], { cwd: closed });
      expect(r.code, r.stderr).toBe(0);
      expectAllFresh(r.stdout);
      const moved = /the demo database goes to (\S+)/.exec(r.stderr);
      if (process.getuid?.() === 0) {
        expect(moved, r.stderr).not.toBeNull();
        expect(r.stdout).toContain(`(embedded, ${moved?.[1]})`);
        rmSync(moved?.[1] as string, { recursive: true, force: true });
      } else {
        expect(moved).toBeNull(); // the server runs as this user, who can reach its own directory
      }
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });

  it('starts an embedded PostgreSQL 18 in its data directory, and re-uses it after a killed run', async () => {
    const dataDir = path.join(base, 'demo');
    const first = await runCli(['demo', '--duration', '6', '--data-dir', dataDir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`(embedded, ${dataDir})`);
    expectAllFresh(first.stdout);
    expect(first.stderr).toMatch(/"event":"embedded-started".*"initdb":true/);
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false); // stopped cleanly

    // A demo killed mid-run leaves its server running on the directory…
    const killed = startCli(['demo', '--duration', '0', '--data-dir', dataDir]);
    processes.push(killed);
    await killed.waitForLog('embedded-started');
    const deadline = Date.now() + 60_000;
    while (!killed.stdout().includes('writes=') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    killed.child.kill('SIGKILL');
    await killed.exited;
    const orphan = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(isProcessAlive(orphan)).toBe(true);

    // …and the next demo stops it, re-uses the data directory and runs as usual.
    const again = await runCli(['demo', '--duration', '6', '--data-dir', dataDir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/"event":"embedded-started".*"initdb":false/);
    expect(isProcessAlive(orphan)).toBe(false);
    expectAllFresh(again.stdout);
  }, 180_000);
});
