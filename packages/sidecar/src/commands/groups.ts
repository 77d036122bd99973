/**
 * `pgtrickle group create|drop|list` and the groups `pgtrickle explain NAME` shows. Rules: group
 * changes go through the SQL API (`pgtrickle.create_refresh_group`, `drop_refresh_group`) like any
 * user's, so they are validated and owner-checked there; what a table's groups are is read from
 * `diamond_groups()` (as the scheduler last planned them) and `refresh_groups()`.
 */
import {
  type DiamondGroupMember,
  displayName,
  type RefreshGroupInfo,
  type RefreshGroupIsolation,
  type Trickle,
} from '@pgtrickle/client';
import { type CommandContext, withTrickle } from '../context.js';
import { SidecarError } from '../errors.js';
import { textTable } from './tables.js';

/** The groups a stream table belongs to. */
export interface TableGroups {
  /** Its diamond's consistency group, if any. */
  readonly diamond: {
    readonly groupId: number;
    readonly consistency: 'none' | 'atomic';
    readonly schedulePolicy: 'fastest' | 'slowest';
    readonly epoch: number;
    readonly members: readonly string[];
    readonly convergence: readonly string[];
  } | null;
  /** Its declared refresh group, if any. */
  readonly refresh: RefreshGroupInfo | null;
}

function isolationOf(text: string | undefined): RefreshGroupIsolation | undefined {
  if (text === undefined) return undefined;
  const v = text.trim().toLowerCase().replace(/[\s-]/g, '_');
  if (v === 'read_committed' || v === 'repeatable_read') return v;
  throw new SidecarError(
    'PGT_USAGE',
    `--isolation must be read_committed or repeatable_read, got "${text}".`,
  );
}

/** The groups of the stream table displayed as `name` (e.g. `public.order_totals`). */
export async function groupsOf(trickle: Trickle, name: string): Promise<TableGroups> {
  const rows: DiamondGroupMember[] = await trickle.diamondGroups();
  const show = (r: DiamondGroupMember) => displayName(r.memberSchema, r.memberName);
  const own = rows.find((r) => show(r) === name);
  const members = own === undefined ? [] : rows.filter((r) => r.groupId === own.groupId);
  const refresh = (await trickle.refreshGroups()).find((g) =>
    g.members.some((m) => m === name || m.replaceAll('"', '') === name.replaceAll('"', '')),
  );
  return {
    diamond:
      own === undefined
        ? null
        : {
            groupId: own.groupId,
            consistency: own.consistency,
            schedulePolicy: own.schedulePolicy,
            epoch: own.epoch,
            members: members.map(show),
            convergence: members.filter((r) => r.isConvergence).map(show),
          },
    refresh: refresh ?? null,
  };
}

/** The lines `explain` prints for a table's groups. */
export function groupLines(groups: TableGroups): string[] {
  const lines: string[] = [];
  const d = groups.diamond;
  if (d === null) lines.push('  diamond       -');
  else {
    lines.push(
      `  diamond       group ${d.groupId}: ${d.members.join(', ')} (convergence ${d.convergence.join(', ')}); ` +
        (d.consistency === 'atomic'
          ? `atomic, epoch ${d.epoch}, schedule policy ${d.schedulePolicy}`
          : "NOT atomic: a member has diamond_consistency = 'none', so members refresh independently"),
    );
  }
  const r = groups.refresh;
  lines.push(
    r === null ? '  refresh group -' : `  refresh group ${r.name}: ${r.members.join(', ')} (${r.isolation})`,
  );
  return lines;
}

/** `pgtrickle group create NAME MEMBER… [--isolation …]`. */
export async function groupCreateCommand(
  ctx: CommandContext,
  name: string,
  members: readonly string[],
  options: { isolation?: string },
): Promise<number> {
  const isolation = isolationOf(options.isolation);
  return withTrickle(ctx, async (trickle) => {
    const id = await trickle.createRefreshGroup(name, members, isolation === undefined ? {} : { isolation });
    ctx.logger.info('group-created', { group: name, id });
    if (ctx.json) ctx.outJson({ groupId: id, name, members, isolation: isolation ?? 'read_committed' });
    else ctx.out(`created refresh group ${name} (id ${id}): ${members.join(', ')}`);
    return 0;
  });
}

/** `pgtrickle group drop NAME`. */
export async function groupDropCommand(ctx: CommandContext, name: string): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    await trickle.dropRefreshGroup(name);
    if (ctx.json) ctx.outJson({ dropped: name });
    else ctx.out(`dropped refresh group ${name}`);
    return 0;
  });
}

/** `pgtrickle group list`: the declared refresh groups, then the diamonds' groups. */
export async function groupListCommand(ctx: CommandContext): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    const declared = await trickle.refreshGroups();
    const diamonds = await trickle.diamondGroups();
    if (ctx.json) {
      ctx.outJson({ refreshGroups: declared, diamondGroups: diamonds });
      return 0;
    }
    if (declared.length === 0) ctx.out('no refresh groups');
    else
      for (const line of textTable(
        ['refresh group', 'isolation', 'members'],
        declared.map((g) => [g.name, g.isolation, g.members.join(', ')]),
      ))
        ctx.out(line);
    ctx.out('');
    const ids = [...new Set(diamonds.map((d) => d.groupId))];
    if (ids.length === 0) ctx.out('no diamond groups');
    else
      for (const line of textTable(
        ['diamond group', 'consistency', 'policy', 'epoch', 'members (* convergence)'],
        ids.map((id) => {
          const m = diamonds.filter((d) => d.groupId === id);
          const first = m[0] as DiamondGroupMember;
          return [
            String(id),
            first.consistency,
            first.schedulePolicy,
            String(first.epoch),
            m
              .map((d) => `${displayName(d.memberSchema, d.memberName)}${d.isConvergence ? '*' : ''}`)
              .join(', '),
          ];
        }),
      ))
        ctx.out(line);
    return 0;
  });
}
