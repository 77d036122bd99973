/**
 * `pgtrickle uninstall [--drop-tables] --yes`: removes pgtrickle from the database (the client's
 * `Trickle.uninstall`): capture triggers and functions, change buffers, the catalog. Storage
 * tables stay as plain tables unless `--drop-tables`. Rule: it changes nothing without `--yes`
 * (it then says what it would do and exits 2); it must run as the role that installed pgtrickle
 * (owner of the schema `pgtrickle`) or a superuser. A running `pgtrickle run` stops with
 * `PGT_CATALOG_MISSING` at its next poll.
 */
import { captureTriggers, installedVersion } from '@pgtrickle/client';
import { type CommandContext, withTrickle } from '../context.js';
import { SidecarError } from '../errors.js';

/** Options of `pgtrickle uninstall`. */
export interface UninstallOptions {
  readonly dropTables?: boolean;
  readonly yes?: boolean;
}

/** `pgtrickle uninstall`. */
export async function uninstallCommand(ctx: CommandContext, options: UninstallOptions): Promise<number> {
  return withTrickle(ctx, async (trickle) => {
    if (options.yes !== true) {
      const version = await installedVersion(trickle.db);
      const triggers = await captureTriggers(trickle.db);
      const tables =
        version > 0
          ? Number(
              (await trickle.db.query('SELECT count(*)::int AS n FROM pgtrickle.pgt_stream_tables')).rows[0]
                ?.n,
            )
          : 0;
      throw new SidecarError(
        'PGT_USAGE',
        `uninstall would remove the pgtrickle catalog${version > 0 ? ` (version ${version})` : ' (none here)'}, ` +
          `${triggers.length} capture trigger(s) and every change buffer, and ${options.dropTables === true ? 'drop' : 'keep as plain tables'} ` +
          `${tables} storage table(s). Run it again with --yes to do it.`,
      );
    }
    const r = await trickle.uninstall({ dropTables: options.dropTables === true });
    ctx.logger.info('uninstalled', { summary: r.summary });
    if (ctx.json) ctx.outJson({ uninstalled: true, hadCatalog: r.hadCatalog, summary: r.summary });
    else ctx.out(r.summary);
    return 0;
  });
}
