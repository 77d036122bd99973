/**
 * `connect()` without a URL, pool or pool configuration connects with pg's defaults, which read
 * the libpq variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD) — as psql would.
 */
import { useTestDatabase } from '@pgtrickle/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';

const db = useTestDatabase();
const NAMES = ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD'] as const;
const saved = Object.fromEntries(NAMES.map((n) => [n, process.env[n]]));

afterEach(() => {
  for (const n of NAMES) {
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
  }
});

describe('connect() with no target', () => {
  it('uses the PG* environment variables, with no argument and with only engine options', async () => {
    const u = new URL(db.url);
    process.env.PGHOST = u.hostname;
    process.env.PGPORT = u.port;
    process.env.PGDATABASE = decodeURIComponent(u.pathname.slice(1));
    process.env.PGUSER = decodeURIComponent(u.username);
    process.env.PGPASSWORD = decodeURIComponent(u.password);
    for (const open of [() => connect(), () => connect({ autoFullRatio: 0.5 })]) {
      const trickle = await open();
      try {
        const r = await trickle.db.query('SELECT current_database() AS d');
        expect(r.rows[0]?.d).toBe(process.env.PGDATABASE);
      } finally {
        await trickle.close();
      }
    }
  });

  it('fails to connect (not a usage error) when the variables point nowhere', async () => {
    process.env.PGHOST = '127.0.0.1';
    process.env.PGPORT = '1';
    await expect(connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
