import { defineConfig, type Options } from 'tsup';

/** The tsup build every package uses: ESM with declarations, one entry per listed file. */
export function packageBuild(entry: string[] = ['src/index.ts'], extra: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    ...extra,
  });
}
