/** Test support: a connected, installed client per test file, closed afterwards. */
import { type TestDatabase, useTestDatabase } from '@pgtrickle/testkit';
import { afterAll, beforeAll } from 'vitest';
import { connect, type Trickle } from '../../src/index.js';

/** A test database with an installed pgtrickle client. */
export function useTrickle(): { db: TestDatabase; trickle: () => Trickle } {
  const db = useTestDatabase();
  let t: Trickle | undefined;
  beforeAll(async () => {
    t = await connect({ connectionString: db.url });
    await t.install();
  });
  afterAll(async () => {
    await t?.close();
  });
  return {
    db,
    trickle: () => {
      if (t === undefined) throw new Error('useTrickle(): used before beforeAll');
      return t;
    },
  };
}
