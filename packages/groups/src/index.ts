/**
 * @pgtrickle/groups — consistency groups (detected from DAG diamonds, declared by users, merged),
 * isolation levels, the refresh-unit schedule, and the GroupExecutionStrategy port with an
 * in-memory implementation. Pure: no database driver, no clock.
 */
export {
  GroupError,
  type GroupErrorCode,
  GroupExecutionError,
  InvalidGroupError,
  TransactionClosedError,
} from './errors.js';
export {
  type ConsistencyGroup,
  type DeclaredGroup,
  declaredGroupId,
  detectedGroupId,
  detectedGroups,
  fromDeclared,
  type GroupOrigin,
  sortIds,
  validateDeclaredGroups,
} from './group.js';
export {
  ISOLATION_LEVELS,
  type IsolationLevel,
  isIsolationLevel,
  isolationRank,
  strongestIsolation,
} from './isolation.js';
export {
  InMemoryGroupStrategy,
  InMemoryGroupTransaction,
  InMemoryStore,
  type InMemoryStoreOptions,
  InMemoryTransaction,
} from './memory.js';
export { type MergeOptions, mergeGroups } from './merge.js';
export * from './strategy.js';
export { type RefreshUnit, refreshUnits, unitIndex } from './units.js';
