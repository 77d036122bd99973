/** The README's example, run as written against the test database; it prints what its comments say. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runReadmeExample, useTestDatabase } from '@pgtrickle/testkit';
import { describe, expect, it } from 'vitest';

const db = useTestDatabase();
const readme = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md');

describe('README example', () => {
  it('runs as written and prints what its comments say', () => {
    const run = runReadmeExample(readme, { DATABASE_URL: db.url });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.expected.length).toBeGreaterThan(5);
    expect(run.printed).toEqual(run.expected);
  }, 120_000);
});
