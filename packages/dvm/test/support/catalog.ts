/**
 * An in-memory {@link CatalogPort} for tests and benchmarks: the answers of a real port are
 * recorded once (`recordingPort`), then replayed with no database (`memoryPort`); a question it
 * has no answer for is an error. Recordings serialise to JSON (`recordingToJson` /
 * `recordingFromJson`) so the golden SQL tests compile from a checked-in catalog.
 */
import type {
  CatalogPort,
  FunctionInfo,
  QualifiedName,
  QueryColumn,
  RelationInfo,
  StreamTableInfo,
} from '../../src/index.js';

const key = (n: QualifiedName) => `${n.schema ?? ''}.${n.name}`;

/**
 * The key of a described query: its text with runs of whitespace collapsed, so a change of the
 * generated SQL's layout alone does not lose the recorded answer.
 */
export const describeKey = (sql: string): string => sql.replace(/\s+/g, ' ').trim();

/** What a port was asked and answered, by question. */
export interface PortRecording {
  readonly relations: Map<string, RelationInfo | null>;
  readonly functions: Map<string, FunctionInfo | null>;
  /** Keyed by {@link describeKey}. */
  readonly described: Map<string, readonly QueryColumn[]>;
  /** Keyed by relation oid (as text). */
  readonly streamTables: Map<string, StreamTableInfo | null>;
}

/** An empty recording. */
export function emptyRecording(): PortRecording {
  return { relations: new Map(), functions: new Map(), described: new Map(), streamTables: new Map() };
}

/** Wraps `port` so that every answer is recorded into `recording` (default: a new one). */
export function recordingPort(
  port: CatalogPort,
  recording: PortRecording = emptyRecording(),
): { port: CatalogPort; recording: PortRecording } {
  const streamTableOf = port.streamTableOf?.bind(port);
  return {
    recording,
    port: {
      async resolveRelation(name) {
        const r = await port.resolveRelation(name);
        recording.relations.set(key(name), r);
        return r;
      },
      async functionInfo(name) {
        const f = await port.functionInfo(name);
        recording.functions.set(key(name), f);
        return f;
      },
      async describeQuery(sql) {
        const d = await port.describeQuery(sql);
        recording.described.set(describeKey(sql), d);
        return d;
      },
      ...(port.serverVersionNum === undefined ? {} : { serverVersionNum: port.serverVersionNum.bind(port) }),
      ...(streamTableOf === undefined
        ? {}
        : {
            async streamTableOf(oid: number) {
              const s = await streamTableOf(oid);
              recording.streamTables.set(String(oid), s);
              return s;
            },
          }),
    },
  };
}

/** A port answering from `recording` only; a question it has no answer for is an error. */
export function memoryPort(recording: PortRecording): CatalogPort {
  const get = <T>(map: Map<string, T>, k: string, what: string): T => {
    if (!map.has(k)) throw new Error(`the in-memory port has no answer for ${what} ${k}`);
    return map.get(k) as T;
  };
  return {
    resolveRelation: async (name) => get(recording.relations, key(name), 'relation'),
    functionInfo: async (name) => get(recording.functions, key(name), 'function'),
    describeQuery: async (sql) => get(recording.described, describeKey(sql), 'query'),
    streamTableOf: async (oid) => recording.streamTables.get(String(oid)) ?? null,
    serverVersionNum: async () => MEMORY_PORT_SERVER_VERSION_NUM,
  };
}

/** The server version the in-memory port reports: the one the tests run (PostgreSQL 18). */
export const MEMORY_PORT_SERVER_VERSION_NUM = 180_000;

/** The JSON form of a recording (entries sorted by key, so re-recording gives stable diffs). */
export function recordingToJson(recording: PortRecording): string {
  const sorted = <T>(map: Map<string, T>) =>
    Object.fromEntries([...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify(
    {
      relations: sorted(recording.relations),
      functions: sorted(recording.functions),
      described: sorted(recording.described),
      streamTables: sorted(recording.streamTables),
    },
    null,
    2,
  )}\n`;
}

/** Reads a recording written by {@link recordingToJson}. */
export function recordingFromJson(text: string): PortRecording {
  const json = JSON.parse(text) as {
    relations: Record<string, RelationInfo | null>;
    functions: Record<string, FunctionInfo | null>;
    described: Record<string, readonly QueryColumn[]>;
    streamTables?: Record<string, StreamTableInfo | null>;
  };
  return {
    relations: new Map(Object.entries(json.relations)),
    functions: new Map(Object.entries(json.functions)),
    described: new Map(Object.entries(json.described)),
    streamTables: new Map(Object.entries(json.streamTables ?? {})),
  };
}
