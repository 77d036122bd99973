/**
 * The `pgtrickle` executable: runs the CLI on this process's arguments and exits with its code.
 * (The built file carries a `#!/usr/bin/env node` banner.)
 */
import { main } from './main.js';

const code = await main(process.argv.slice(2));
// Flush stdout/stderr, then exit even if a library left a handle open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
