/** The OS-user helpers, from @pgtrickle/embedded (re-exported for the test kit's own tests). */
export {
  fileAccessibleBy,
  firstUntraversable,
  isRoot,
  type OsIdentity,
  resolveOsUser,
} from '../../embedded/src/index.js';
