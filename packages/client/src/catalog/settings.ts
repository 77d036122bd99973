/**
 * A stream table's feature settings (its fuse, its diamond consistency) as the TypeScript API
 * takes them, and the one way they are written: `pgtrickle.apply_settings`, which validates them
 * (the same function the SQL API's `alter_stream_table(…, fuse => …)` reaches), so both APIs accept
 * and refuse exactly the same values. Omitted fields are unchanged; `null` restores the default.
 */
import { cat, type Queryable } from './schema.js';

/** Fuse settings (see docs/refresh-control.md, "Fuse"). */
export interface FuseSettings {
  /** 'off' (default), 'on' or 'auto'. */
  readonly mode?: 'off' | 'on' | 'auto';
  /** Unread change rows above which it blows (null: the sidecar's default ceiling). */
  readonly ceiling?: number | null;
  /** Consecutive over-ceiling checks before it blows (null: 1). */
  readonly sensitivity?: number | null;
  /** 'auto': standard deviations above the mean change count that blow it (null: 3). */
  readonly sigma?: number | null;
  /** 'auto': applied refreshes the baseline is computed over (null: 20). */
  readonly window?: number | null;
  /** 'auto': applied refreshes needed before the statistical rule applies (null: 10). */
  readonly minSamples?: number | null;
}

/** Diamond-consistency settings (see docs/refresh-control.md, "Diamonds"). */
export interface DiamondSettings {
  /** 'atomic' (default): its diamond group refreshes in one transaction; 'none': independently. */
  readonly consistency?: 'none' | 'atomic';
  /** 'fastest' (default): the group is due when any member is; 'slowest': when all are. */
  readonly schedulePolicy?: 'fastest' | 'slowest';
}

/** The settings object `pgtrickle.check_settings` takes (SQL names; undefined fields left out). */
export function settingsObject(fuse?: FuseSettings, diamond?: DiamondSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => {
    if (value !== undefined) out[key] = value;
  };
  put('fuse', fuse?.mode);
  put('fuse_ceiling', fuse?.ceiling);
  put('fuse_sensitivity', fuse?.sensitivity);
  put('fuse_sigma', fuse?.sigma);
  put('fuse_window', fuse?.window);
  put('fuse_min_samples', fuse?.minSamples);
  put('diamond_consistency', diamond?.consistency);
  put('diamond_schedule_policy', diamond?.schedulePolicy);
  return out;
}

/** Validates `settings` without writing them (throws the SQL API's error for a bad value). */
export async function checkSettings(q: Queryable, settings: Record<string, unknown>): Promise<void> {
  await q.query(`SELECT ${cat('check_settings')}($1::jsonb)`, [JSON.stringify(settings)]);
}

/** Writes `settings` on stream table `pgtId` (validated; the caller checked ownership). */
export async function applySettings(
  q: Queryable,
  pgtId: number,
  settings: Record<string, unknown>,
): Promise<void> {
  if (Object.keys(settings).length === 0) return;
  await q.query(`SELECT ${cat('apply_settings')}($1, $2::jsonb)`, [pgtId, JSON.stringify(settings)]);
}
