/**
 * Recording the statements a client sends: every query of the client's pooled connections (both
 * checkout forms of pg's pool), for tests that count round trips.
 */
import type { Trickle } from '../../src/index.js';

/** Runs `f`, recording the text of every statement the client's pooled connections ran. */
export async function recorded<T>(t: Trickle, f: () => Promise<T>): Promise<{ value: T; texts: string[] }> {
  const pool = t.db.pool as unknown as Record<string, unknown>;
  const connect = pool.connect as (...a: unknown[]) => Promise<Record<string, unknown>>;
  const texts: string[] = [];
  const wrapped: { client: Record<string, unknown>; query: unknown }[] = [];
  const wrap = (c: Record<string, unknown>) => {
    if (wrapped.some((w) => w.client === c)) return;
    const query = c.query as (...a: unknown[]) => unknown;
    wrapped.push({ client: c, query });
    c.query = (...a: unknown[]) => {
      texts.push(typeof a[0] === 'string' ? a[0] : String((a[0] as { text?: unknown })?.text ?? ''));
      return query.apply(c, a);
    };
  };
  pool.connect = async (...args: unknown[]) => {
    if (typeof args[0] === 'function') {
      const cb = args[0] as (e: unknown, c?: Record<string, unknown>, done?: unknown) => void;
      return connect.call(pool, (e: unknown, c?: Record<string, unknown>, done?: unknown) => {
        if (c !== undefined) wrap(c);
        cb(e, c, done);
      });
    }
    const c = await connect.call(pool, ...args);
    wrap(c);
    return c;
  };
  try {
    return { value: await f(), texts };
  } finally {
    pool.connect = connect;
    for (const w of wrapped) w.client.query = w.query;
  }
}
