/**
 * Test roles: cluster-wide, so named with a random suffix per test file, each logging in with one
 * password the file chooses.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Login roles for one test file, and connections as them. */
export class TestRoles {
  /** A random suffix to name this file's roles with. */
  readonly suffix = randomBytes(4).toString('hex');
  /** The password every role of this file logs in with. */
  readonly password = randomBytes(12).toString('hex');

  constructor(private readonly serverUrl: () => string) {}

  /** `base` made unique to this file. */
  name(base: string): string {
    return `${base}_${this.suffix}`;
  }

  /** The test database's URL, logging in as `role`. */
  url(role: string): string {
    const u = new URL(this.serverUrl());
    u.username = role;
    u.password = this.password;
    return u.toString();
  }

  /** A connected client logged in as `role` (end it yourself). */
  async client(role: string): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: this.url(role) });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }
}
