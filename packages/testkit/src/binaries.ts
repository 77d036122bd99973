/** The binaries helpers, from @pgtrickle/embedded (re-exported for the test kit's own tests). */
export {
  type EnsureBinariesOptions,
  ensureBinariesUsable,
  locatePostgresBinaries,
  type PostgresBinaries,
} from '../../embedded/src/index.js';
