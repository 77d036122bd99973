/**
 * The listen address of the HTTP endpoints (`--http`, `http.listen`). Rule: a port alone (`9187`)
 * or `:port` binds the loopback address 127.0.0.1 — nothing is exposed beyond the machine unless a
 * host is named (`0.0.0.0:9187`, `[::]:9187`, `10.0.0.5:9187`).
 */

/** A parsed listen address. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The host a port alone binds. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';

/** Parses `port`, `:port`, `host:port` or `[ipv6]:port`; null when it is not one of them. */
export function parseListenAddress(text: string): ListenAddress | null {
  const t = text.trim();
  let host = DEFAULT_HTTP_HOST;
  let port: string;
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(t);
  if (v6 !== null) {
    host = v6[1] as string;
    port = v6[2] as string;
  } else if (/^\d+$/.test(t)) {
    port = t;
  } else {
    const m = /^([A-Za-z0-9.-]*):(\d+)$/.exec(t);
    if (m === null) return null;
    if (m[1] !== '') host = m[1] as string;
    port = m[2] as string;
  }
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65535) return null;
  return { host, port: n };
}

/** The address as `host:port` (`[ipv6]:port`). */
export function formatListenAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
