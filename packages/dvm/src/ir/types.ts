/**
 * The operator tree (IR). Every node has a `kind` (the closed {@link IrNode} union lists them;
 * `OPERATOR_RULES` in `operators/index.ts` holds each kind's rules), output columns with
 * compile-wide unique ids, and the static facts the planner needs. Operator modules extend
 * {@link IrNodeBase} with their own fields.
 */
import type { Node } from '@pgsql/types';
import type { ColumnInfo } from '../catalog/port.js';
import type { AggregateNode } from '../operators/aggregate-node.js';
import type { ConstantNode } from '../operators/constant.js';
import type { DistinctNode, DistinctOnNode } from '../operators/distinct.js';
import type { FilterNode } from '../operators/filter.js';
import type { JoinNode } from '../operators/join.js';
import type { LateralFunctionNode } from '../operators/lateral.js';
import type { LateralSubqueryNode } from '../operators/lateral-subquery.js';
import type { OuterJoinNode } from '../operators/outer-join.js';
import type { ProjectNode } from '../operators/project.js';
import type { RecursiveCteNode, RecursiveSelfNode } from '../operators/recursive.js';
import type { ScalarSubqueryNode } from '../operators/scalar-subquery.js';
import type { ScanNode } from '../operators/scan.js';
import type { SemiJoinNode } from '../operators/semi-join.js';
import type { SetInputNode, SetOpNode } from '../operators/set-op.js';
import type { TopNNode } from '../operators/top-n.js';
import type { UnionAllNode } from '../operators/union-all.js';
import type { WindowNode } from '../operators/window.js';

/**
 * An output column of a node. `id` is unique in the whole compiled tree and names the column in
 * every generated relation (snapshot, delta); `name` is the user-visible name used to resolve
 * references and to name storage columns.
 */
export interface IrColumn {
  readonly id: string;
  readonly name: string;
}

/**
 * A resolved expression: a parse tree in which every column reference has been replaced by a
 * `ColumnRef` whose only field is the id of an input column (see `ir/expr.ts`).
 */
export interface Expr {
  readonly ast: Node;
  /** Ids of the input columns it reads. */
  readonly refs: readonly string[];
  /** Byte offset in the user's query, for messages. */
  readonly location: number | undefined;
}

/** Fields every operator node has. */
export interface IrNodeBase {
  /** The operator kind (each node type narrows it to its own literal); selects its rules. */
  readonly kind: string;
  /** Unique number of this node in its tree (names CTEs, memoises deltas). */
  readonly nid: number;
  /** Output columns, in order. */
  readonly columns: readonly IrColumn[];
  /** Whether the node's row ids are unique (chooses MERGE vs counted apply at the root). */
  readonly uniqueIds: boolean;
  /** Input nodes. */
  readonly children: readonly IrNode[];
}

/** Any operator node: the closed union of every operator module's node type. */
export type IrNode =
  | ScanNode
  | FilterNode
  | ProjectNode
  | JoinNode
  | OuterJoinNode
  | SemiJoinNode
  | ScalarSubqueryNode
  | AggregateNode
  | DistinctNode
  | DistinctOnNode
  | SetOpNode
  | SetInputNode
  | UnionAllNode
  | WindowNode
  | TopNNode
  | LateralFunctionNode
  | LateralSubqueryNode
  | RecursiveCteNode
  | RecursiveSelfNode
  | ConstantNode;

/** The kinds of operator node. */
export type IrNodeKind = IrNode['kind'];

/** A source relation read by scans: a base table or a stream table. */
export interface SourceRef {
  /** Stable key of the source in plans, frontiers and parameters: the relation oid as text. */
  readonly key: string;
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** `table`: a base table with a trigger-fed buffer; `streamTable`: another stream table (epoch buffer). */
  readonly kind: 'table' | 'streamTable';
  /** For a stream table, its id. */
  readonly pgtId: number | null;
  /** Columns captured in its change buffer (all user columns; a stream table adds `__pgt_row_id`). */
  readonly captured: readonly ColumnInfo[];
  /** Columns visible to queries (a stream table's hidden `__pgt_*` columns excluded). */
  readonly visible: readonly ColumnInfo[];
  /** Columns its row ids are formed from: the primary key, `__pgt_row_id`, or (keyless) all visible columns. */
  readonly idColumns: readonly string[];
  /** Whether `idColumns` is a key (ids unique). */
  readonly keyed: boolean;
  /** Whether the key is DEFERRABLE (a transaction may insert a key's new row before deleting its old one). */
  readonly deferrableKey?: boolean;
  /** How a base table's buffer stores rows (`typed` columns `c<attnum>`, or the row's text). */
  readonly captureFormat?: 'typed' | 'text';
}

/** A snapshot side: R₀ (before the window) or R₁ (as of the statement). */
export type Side = 'old' | 'new';
