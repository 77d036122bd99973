/**
 * The live status page of `pgtrickle run --http` in headless Chromium: it shows every stream table
 * and source of the pipeline, and updates by itself — after a change to a source, the row of the
 * refreshed table shows one more refresh without reloading the page. Saves a screenshot (to
 * $PGTRICKLE_SCREENSHOT when set, e.g. docs/status-page.png; else to the temp dir).
 * The browser is Debian's chromium (`apt-get install -y chromium`), or $CHROMIUM_PATH.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useTestDatabase } from '@pgtrickle/testkit';
import type pg from 'pg';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { captureIo } from '../test/support/io.js';
import { eventually } from '../test/support/process.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const db = useTestDatabase();
let client: pg.Client;
let browser: Browser;
const stop = new AbortController();
let exit: Promise<number>;
let base = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No browser at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`,
    );
  }
  client = await db.client();
  await client.query(`
    CREATE TABLE customers (id int PRIMARY KEY, name text, country text);
    CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount int);
    INSERT INTO customers SELECT g, 'customer ' || g, (ARRAY['DE','FR','US','JP'])[1 + g % 4] FROM generate_series(1, 20) g;
    INSERT INTO orders SELECT g, 1 + g % 20, g * 3 FROM generate_series(1, 200) g`);
  const io = captureIo({ stop: stop.signal });
  exit = main(
    [
      'run',
      '--database-url',
      db.url,
      '--http',
      '127.0.0.1:0',
      '--poll-interval-ms',
      '200',
      '--log-format',
      'json',
    ],
    io,
  );
  await eventually(async () => {
    const line = io
      .stderrText()
      .split('\n')
      .find((l) => l.includes('"http-listening"'));
    expect(line).toBeDefined();
    base = `http://${JSON.parse(line as string).address}`;
    expect(io.stderrText()).toContain('"event":"started"');
  }, 60_000);
  for (const [name, query, schedule] of [
    [
      'public.order_lines',
      'SELECT o.id, c.country, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id',
      null,
    ],
    [
      'public.revenue_by_country',
      'SELECT country, sum(amount) AS revenue FROM order_lines GROUP BY country',
      '1s',
    ],
    ['public.top_countries', 'SELECT country FROM revenue_by_country WHERE revenue > 1000', '2s'],
    [
      'public.orders_per_customer',
      'SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id',
      '1s',
    ],
  ] as const) {
    await client.query('SELECT pgtrickle.create_stream_table($1, $2, $3)', [name, query, schedule]);
  }
  await eventually(async () => {
    const s = (await (await fetch(`${base}/api/status`)).json()) as { tables: unknown[] };
    expect(s.tables).toHaveLength(4);
  }, 60_000);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  stop.abort('test');
  await exit?.catch(() => 1);
  await client?.end();
});

describe('the status page', () => {
  it('shows the tables and sources, and updates live after a refresh', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(base);
    const row = (name: string) => page.locator(`tr[data-table="${name}"]`);
    await row('public.revenue_by_country').waitFor();
    for (const name of [
      'public.order_lines',
      'public.revenue_by_country',
      'public.top_countries',
      'public.orders_per_customer',
    ]) {
      await expect(row(name).count()).resolves.toBe(1);
      await expect(page.locator(`g[data-node="${name}"]`).count()).resolves.toBe(1);
    }
    await expect(page.locator('g[data-state="source"]').count()).resolves.toBe(2);
    await expect(page.locator('#leader').textContent()).resolves.toMatch(/^leader \(epoch \d+\)$/);

    const refreshes = async () =>
      Number(await row('public.orders_per_customer').getAttribute('data-refreshes'));
    const before = await refreshes();
    const updatedBefore = await page.locator('body').getAttribute('data-updated-at');
    await client.query(`INSERT INTO orders SELECT g, 1 + g % 20, 5 FROM generate_series(1000, 1010) g`);
    // no reload: the page polls and redraws
    // (expressions evaluated in the page)
    await page.waitForFunction(
      `Number(document.querySelector('tr[data-table="public.orders_per_customer"]')?.getAttribute('data-refreshes')) > ${before}`,
      undefined,
      { timeout: 60_000 },
    );
    expect(await refreshes()).toBeGreaterThan(before);
    expect(await page.locator('body').getAttribute('data-updated-at')).not.toBe(updatedBefore);
    await page.waitForFunction(
      `[...document.querySelectorAll('tr[data-table]')].every((r) => r.dataset.state === 'ok')`,
      undefined,
      { timeout: 60_000 },
    );
    await expect(page.locator('#recent tr').count()).resolves.toBeGreaterThan(0);

    const file =
      process.env.PGTRICKLE_SCREENSHOT ?? path.join(os.tmpdir(), `pgtrickle-status-${process.pid}.png`);
    await page.screenshot({ path: path.resolve(file), fullPage: true });
    expect(statSync(path.resolve(file)).size).toBeGreaterThan(10_000);
    // Kept only where PGTRICKLE_SCREENSHOT asks for it.
    if (process.env.PGTRICKLE_SCREENSHOT === undefined) rmSync(file);
    await page.close();
  });
});
