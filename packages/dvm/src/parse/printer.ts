/**
 * The SQL printer: pgsql-deparser with the constructs it loses or cannot print completed, so a
 * printed tree means what the parsed one did. Added here:
 * - `FETCH FIRST n ROWS WITH TIES` (the base printer writes `LIMIT n`, dropping the ties);
 * - `GROUP BY DISTINCT` (the base printer drops `DISTINCT`);
 * - the SQL/JSON query functions `JSON_VALUE`, `JSON_QUERY`, `JSON_EXISTS` and `JSON_TABLE`
 *   (the base printer has no rule for them).
 * Whatever else it may get wrong is caught by the round-trip check of `deparse.ts`, never sent.
 */
import type {
  JsonArgument,
  JsonBehavior,
  JsonFuncExpr,
  JsonOutput,
  JsonQuotes,
  JsonTable,
  JsonTableColumn,
  JsonTablePathSpec,
  JsonWrapper,
  Node,
  SelectStmt,
} from '@pgsql/types';
import { Deparser, QuoteUtils } from 'pgsql-deparser';

type Context = Parameters<Deparser['SelectStmt']>[1];

/** The marker node standing for `DISTINCT` at the head of a GROUP BY list (printer-internal). */
interface GroupDistinctMarker {
  readonly PgtGroupDistinct: { readonly item: Node };
}

const BEHAVIOR: Record<string, string> = {
  JSON_BEHAVIOR_NULL: 'NULL',
  JSON_BEHAVIOR_ERROR: 'ERROR',
  JSON_BEHAVIOR_EMPTY: 'EMPTY',
  JSON_BEHAVIOR_TRUE: 'TRUE',
  JSON_BEHAVIOR_FALSE: 'FALSE',
  JSON_BEHAVIOR_UNKNOWN: 'UNKNOWN',
  JSON_BEHAVIOR_EMPTY_ARRAY: 'EMPTY ARRAY',
  JSON_BEHAVIOR_EMPTY_OBJECT: 'EMPTY OBJECT',
};

const WRAPPER: Record<JsonWrapper, string | null> = {
  JSW_UNSPEC: null,
  JSW_NONE: 'WITHOUT WRAPPER',
  JSW_CONDITIONAL: 'WITH CONDITIONAL WRAPPER',
  JSW_UNCONDITIONAL: 'WITH UNCONDITIONAL WRAPPER',
};

const QUOTES: Record<JsonQuotes, string | null> = {
  JS_QUOTES_UNSPEC: null,
  JS_QUOTES_KEEP: 'KEEP QUOTES',
  JS_QUOTES_OMIT: 'OMIT QUOTES',
};

const FUNC_NAME: Record<string, string> = {
  JSON_VALUE_OP: 'JSON_VALUE',
  JSON_QUERY_OP: 'JSON_QUERY',
  JSON_EXISTS_OP: 'JSON_EXISTS',
};

/** pgsql-deparser completed for the constructs listed in the module header. */
export class PgtDeparser extends Deparser {
  override SelectStmt(node: SelectStmt, context: Context): string {
    const withTies = node.limitOption === 'LIMIT_OPTION_WITH_TIES';
    let base: SelectStmt = node;
    if (node.groupDistinct === true && node.groupClause !== undefined && node.groupClause.length > 0) {
      const [first, ...rest] = node.groupClause as Node[];
      const marker: GroupDistinctMarker = { PgtGroupDistinct: { item: first as Node } };
      base = { ...base, groupClause: [marker as unknown as Node, ...rest] };
    }
    if (!withTies) return super.SelectStmt(base, context);
    // OFFSET … ROWS FETCH FIRST … ROWS WITH TIES, then any locking clause, after the rest.
    const { limitCount, limitOffset, lockingClause, ...rest } = base;
    const parts = [super.SelectStmt(rest as SelectStmt, context)];
    if (limitOffset !== undefined) parts.push(`OFFSET (${this.visit(limitOffset, context)}) ROWS`);
    const count = limitCount === undefined ? '1' : `(${this.visit(limitCount, context)})`;
    parts.push(`FETCH FIRST ${count} ROWS WITH TIES`);
    if (lockingClause !== undefined) parts.push(lockingClause.map((l) => this.visit(l, context)).join(' '));
    return parts.join(' ');
  }

  /** `DISTINCT` before the first GROUP BY item (see {@link SelectStmt}). */
  PgtGroupDistinct(node: GroupDistinctMarker['PgtGroupDistinct'], context: Context): string {
    return `DISTINCT ${this.visit(node.item, context)}`;
  }

  /** `JSON_VALUE`, `JSON_QUERY`, `JSON_EXISTS`. */
  JsonFuncExpr(node: JsonFuncExpr, context: Context): string {
    const name = FUNC_NAME[node.op ?? ''];
    if (name === undefined) throw new Error(`unknown SQL/JSON function ${String(node.op)}`);
    const args = [
      `${this.jsonValue(node.context_item, context)}, ${this.visitRequired(node.pathspec, context)}`,
    ];
    const passing = this.jsonPassing(node.passing, context);
    if (passing !== null) args.push(passing);
    const output = this.jsonOutput(node.output, context);
    if (output !== null) args.push(output);
    const wrapper = WRAPPER[node.wrapper ?? 'JSW_UNSPEC'];
    if (wrapper !== null && node.op === 'JSON_QUERY_OP') args.push(wrapper);
    const quotes = QUOTES[node.quotes ?? 'JS_QUOTES_UNSPEC'];
    if (quotes !== null) args.push(quotes);
    args.push(...this.jsonBehaviors(node.on_empty, node.on_error, context));
    return `${name}(${args.join(' ')})`;
  }

  /** `JSON_TABLE(…) [AS alias]` in FROM. */
  JsonTable(node: JsonTable, context: Context): string {
    const args = [
      `${this.jsonValue(node.context_item, context)}, ${this.jsonPathSpec(node.pathspec, context)}`,
    ];
    const passing = this.jsonPassing(node.passing, context);
    if (passing !== null) args.push(passing);
    args.push(`COLUMNS (${this.jsonColumns(node.columns, context)})`);
    if (node.on_error !== undefined) args.push(`${this.jsonBehavior(node.on_error, context)} ON ERROR`);
    const alias = node.alias === undefined ? '' : ` ${this.Alias(node.alias, context)}`;
    return `${node.lateral === true ? 'LATERAL ' : ''}JSON_TABLE(${args.join(' ')})${alias}`;
  }

  /** One column of a `JSON_TABLE` (`COLUMNS (…)` entry). */
  JsonTableColumn(node: JsonTableColumn, context: Context): string {
    const name = node.name === undefined ? '' : QuoteUtils.quoteIdentifier(node.name);
    switch (node.coltype) {
      case 'JTC_FOR_ORDINALITY':
        return `${name} FOR ORDINALITY`;
      case 'JTC_NESTED':
        return `NESTED PATH ${this.jsonPathSpec(node.pathspec, context)} COLUMNS (${this.jsonColumns(node.columns, context)})`;
      default: {
        const parts = [name, node.typeName === undefined ? '' : this.TypeName(node.typeName, context)];
        if (node.coltype === 'JTC_EXISTS') parts.push('EXISTS');
        const format = this.formatJsonFormat(node.format);
        if (node.coltype === 'JTC_FORMATTED') parts.push(format ?? 'FORMAT JSON');
        if (node.pathspec !== undefined) parts.push(`PATH ${this.jsonPathSpec(node.pathspec, context)}`);
        if (node.coltype !== 'JTC_EXISTS') {
          const wrapper = WRAPPER[node.wrapper ?? 'JSW_UNSPEC'];
          if (wrapper !== null) parts.push(wrapper);
          const quotes = QUOTES[node.quotes ?? 'JS_QUOTES_UNSPEC'];
          if (quotes !== null) parts.push(quotes);
        }
        parts.push(...this.jsonBehaviors(node.on_empty, node.on_error, context));
        return parts.filter((p) => p !== '').join(' ');
      }
    }
  }

  private visitRequired(node: Node | undefined, context: Context): string {
    if (node === undefined) throw new Error('a SQL/JSON construct lacks a required part');
    return this.visit(node, context);
  }

  private jsonValue(value: JsonFuncExpr['context_item'], context: Context): string {
    if (value === undefined) throw new Error('a SQL/JSON construct lacks its context item');
    return this.JsonValueExpr(value, context);
  }

  private jsonPathSpec(spec: JsonTablePathSpec | undefined, context: Context): string {
    const path = this.visitRequired(spec?.string, context);
    return spec?.name === undefined ? path : `${path} AS ${QuoteUtils.quoteIdentifier(spec.name)}`;
  }

  private jsonColumns(columns: Node[] | undefined, context: Context): string {
    return (columns ?? []).map((c) => this.visit(c, context)).join(', ');
  }

  private jsonPassing(passing: Node[] | undefined, context: Context): string | null {
    if (passing === undefined || passing.length === 0) return null;
    const args = passing.map((p) => {
      const arg = (p as { JsonArgument?: JsonArgument }).JsonArgument;
      if (arg?.val === undefined || arg.name === undefined)
        throw new Error('a PASSING argument lacks a value or name');
      return `${this.JsonValueExpr(arg.val, context)} AS ${QuoteUtils.quoteIdentifier(arg.name)}`;
    });
    return `PASSING ${args.join(', ')}`;
  }

  private jsonOutput(output: JsonOutput | undefined, context: Context): string | null {
    if (output?.typeName === undefined) return null;
    const format = this.formatJsonFormat(output.returning?.format);
    return `RETURNING ${this.TypeName(output.typeName, context)}${format === null ? '' : ` ${format}`}`;
  }

  private jsonBehaviors(
    onEmpty: JsonBehavior | undefined,
    onError: JsonBehavior | undefined,
    context: Context,
  ): string[] {
    const out: string[] = [];
    if (onEmpty !== undefined) out.push(`${this.jsonBehavior(onEmpty, context)} ON EMPTY`);
    if (onError !== undefined) out.push(`${this.jsonBehavior(onError, context)} ON ERROR`);
    return out;
  }

  private jsonBehavior(behavior: JsonBehavior, context: Context): string {
    if (behavior.btype === 'JSON_BEHAVIOR_DEFAULT') {
      return `DEFAULT (${this.visitRequired(behavior.expr, context)})`;
    }
    const word = BEHAVIOR[behavior.btype ?? ''];
    if (word === undefined) throw new Error(`unknown SQL/JSON behavior ${String(behavior.btype)}`);
    return word;
  }
}
