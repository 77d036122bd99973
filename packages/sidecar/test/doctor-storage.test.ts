/**
 * `pgtrickle doctor` on a stream table whose storage table was dropped behind pgtrickle: a
 * warning naming the cleanup command (drop), not "resume", before and after a refresh noticed it.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { captureIo } from './support/io.js';

const db = useTestDatabase();

async function cli(argv: string[]) {
  const io = captureIo({ env: { PGTRICKLE_DATABASE_URL: db.url, PGTRICKLE_LOG_LEVEL: 'warn' } });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

beforeAll(async () => {
  await db.query(`CREATE TABLE orders (id int PRIMARY KEY, amount numeric NOT NULL);
    INSERT INTO orders SELECT g, g FROM generate_series(1, 10) g`);
});

describe('doctor: a storage table dropped behind pgtrickle', () => {
  it('warns with the drop command, and the table can be dropped', async () => {
    expect((await cli(['migrate'])).code).toBe(0);
    const created = await cli(['create', 'big', '--query', 'SELECT id, amount FROM orders WHERE amount > 5']);
    expect(created.code, created.stderr).toBe(0);
    await db.query('DROP TABLE big__pgt_storage CASCADE');
    const before = await cli(['doctor']);
    expect(before.stdout).toMatch(
      /^warn\s+stream tables\s+public\.big \(ACTIVE\) has lost its storage table .* `pgtrickle drop public\.big` \(or SELECT pgtrickle\.drop_stream_table\('public\.big'\)\)/m,
    );
    const refreshed = await cli(['refresh', 'big']);
    expect(refreshed.code).not.toBe(0);
    expect(refreshed.stderr).toContain('PGT_STORAGE_MISSING');
    const after = await cli(['doctor']);
    expect(after.stdout).toMatch(/^warn\s+stream tables\s+public\.big \(ERROR\) has lost its storage table/m);
    expect(after.stdout).not.toContain('pgtrickle resume public.big');
    const dropped = await cli(['drop', 'big']);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect((await cli(['doctor'])).stdout).toMatch(/^pass\s+stream tables/m);
  });
});
