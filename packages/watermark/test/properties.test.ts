/**
 * Properties of the watermark algebra, for Date, number and bigint watermarks, against an
 * independent model (plain numbers/bigints compared with < and subtracted):
 * a watermark never goes back; alignment and the effective watermark are exactly the model's
 * max − min ≤ tolerance and min; results do not depend on the order of the group or of the map.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AdvanceResult,
  advanceWatermark,
  checkAlignment,
  effectiveWatermark,
  lag,
  Watermark,
  WatermarkRegressionError,
} from '../src/index.js';
import { bigintKind, type Kind, numberKind, runs, sourceIds, timeKind } from './kinds.js';

function maxKey(a: number | bigint, b: number | bigint): number | bigint {
  return a > b ? a : b;
}

/** A group's sources with a value (or none) for each. */
function groupAndWatermarks<T, D>(kind: Kind<T, D>, allPresent = false) {
  return sourceIds.chain((sources) =>
    fc.record({
      sources: fc.constant(sources),
      values: fc.tuple(
        ...sources.map(() => (allPresent ? kind.value : fc.option(kind.value, { nil: undefined, freq: 6 }))),
      ),
      tolerance: kind.tolerance,
    }),
  );
}

function suite<T, D>(kind: Kind<T, D>): void {
  const { ordering, key } = kind;

  describe(`properties: ${kind.name} watermarks`, () => {
    it('never go back: the value is the running max of accepted values; regressions throw and change nothing', () => {
      fc.assert(
        fc.property(fc.array(kind.value, { minLength: 1, maxLength: 40 }), ([first, ...rest]) => {
          let w = Watermark.of('src', first as T, ordering);
          let accepted = key(first as T);
          let raw: T = advanceWatermark<T, D>('src', undefined, first as T, ordering).value;
          for (const next of rest) {
            const before = key(w.value);
            if (key(next) < before) {
              let thrown: unknown;
              try {
                w.advance(next);
              } catch (e) {
                thrown = e;
              }
              expect(thrown).toBeInstanceOf(WatermarkRegressionError);
              expect(thrown).toMatchObject({ code: 'PGT_WATERMARK_REGRESSION', source: 'src' });
              expect(() => advanceWatermark('src', raw, next, ordering)).toThrow(WatermarkRegressionError);
              expect(key(w.value)).toEqual(before);
              continue;
            }
            const r = w.advance(next);
            expect(r.changed).toBe(key(next) > before);
            if (!r.changed) expect(r.watermark).toBe(w);
            else expect(ordering.compareDistance(r.by, ordering.zero)).toBeGreaterThan(0);
            const f: AdvanceResult<T, D> = advanceWatermark('src', raw, next, ordering);
            expect(f.changed).toBe(r.changed);
            raw = f.value;
            w = r.watermark;
            accepted = maxKey(accepted, key(next));
            expect(key(w.value)).toEqual(accepted);
            expect(key(raw)).toEqual(accepted);
          }
        }),
        runs,
      );
    });

    it('round-trip through JSON', () => {
      fc.assert(
        fc.property(kind.value, (v) => {
          const w = Watermark.of('s', v, ordering);
          const back = Watermark.fromJSON(JSON.parse(JSON.stringify(w)), ordering);
          expect(back.source).toBe('s');
          expect(key(back.value)).toEqual(key(v));
        }),
        runs,
      );
    });

    it('aligned ⇔ max − min ≤ tolerance; effective = min; spread, leader and laggard match the model', () => {
      fc.assert(
        fc.property(groupAndWatermarks(kind), ({ sources, values, tolerance }) => {
          const group = { name: 'g', sources, tolerance };
          const map = new Map<string, T | undefined>(sources.map((s, i) => [s, values[i]]));
          const result = checkAlignment(group, map, ordering);
          const missing = sources.filter((_, i) => values[i] === undefined);
          if (missing.length > 0) {
            expect(result).toEqual({ aligned: false, reason: 'missing', group: 'g', missing });
            expect(effectiveWatermark(group, map, ordering)).toBeUndefined();
            return;
          }
          const keyed = sources.map((s, i) => ({ s, k: key(values[i] as T) }));
          const minK = keyed.reduce((a, b) => (b.k < a.k ? b : a)).k;
          const maxK = keyed.reduce((a, b) => (b.k > a.k ? b : a)).k;
          const laggard = keyed
            .filter((x) => x.k === minK)
            .map((x) => x.s)
            .sort()[0];
          const leader = keyed
            .filter((x) => x.k === maxK)
            .map((x) => x.s)
            .sort()[0];
          const spread = typeof maxK === 'bigint' ? maxK - BigInt(minK) : maxK - Number(minK);
          expect(result.aligned).toBe(kind.within(spread, tolerance));
          expect(result.reason).toBe(result.aligned ? 'aligned' : 'misaligned');
          if (result.reason === 'missing') return;
          expect(key(result.effective)).toEqual(minK);
          expect(key(result.latest)).toEqual(maxK);
          expect(result.spread).toEqual(typeof result.spread === 'bigint' ? spread : Number(spread));
          expect(result.tolerance).toBe(tolerance);
          expect(result.laggard).toBe(laggard);
          expect(result.leader).toBe(leader);
          expect(key(effectiveWatermark(group, map, ordering) as T)).toEqual(minK);
          // every source's lag behind the leader is within the spread
          for (const [i] of sources.entries()) {
            const l = lag(values[i] as T, result.latest, ordering);
            expect(ordering.compareDistance(l, result.spread)).toBeLessThanOrEqual(0);
            expect(ordering.compareDistance(l, ordering.zero)).toBeGreaterThanOrEqual(0);
          }
        }),
        runs,
      );
    });

    it('is invariant under permuting the group’s sources and the map’s insertion order', () => {
      fc.assert(
        fc.property(
          groupAndWatermarks(kind).chain((g) =>
            fc.record({
              g: fc.constant(g),
              groupOrder: fc.shuffledSubarray(g.sources, {
                minLength: g.sources.length,
                maxLength: g.sources.length,
              }),
              mapOrder: fc.shuffledSubarray(g.sources, {
                minLength: g.sources.length,
                maxLength: g.sources.length,
              }),
              extra: fc.option(kind.value, { nil: undefined }),
            }),
          ),
          ({ g, groupOrder, mapOrder, extra }) => {
            const byId = new Map(g.sources.map((s, i) => [s, g.values[i]]));
            const base = checkAlignment(
              { name: 'g', sources: g.sources, tolerance: g.tolerance },
              new Map(g.sources.map((s) => [s, byId.get(s)])),
              ordering,
            );
            const shuffledMap = new Map<string, T | undefined>(mapOrder.map((s) => [s, byId.get(s)]));
            // an entry for a source outside the group is ignored
            if (extra !== undefined) shuffledMap.set('\u0000not-in-group', extra);
            const permuted = checkAlignment(
              { name: 'g', sources: groupOrder, tolerance: g.tolerance },
              shuffledMap,
              ordering,
            );
            if (base.reason === 'missing' || permuted.reason === 'missing') {
              expect(permuted.reason).toBe(base.reason);
              // the missing sources are the same set, listed in each group's own order
              if (base.reason === 'missing' && permuted.reason === 'missing') {
                expect(permuted.missing).toEqual(groupOrder.filter((s) => base.missing.includes(s)));
              }
              return;
            }
            expect(permuted).toEqual(base);
            expect(
              effectiveWatermark(
                { name: 'g', sources: groupOrder, tolerance: g.tolerance },
                shuffledMap,
                ordering,
              ),
            ).toEqual(base.effective);
          },
        ),
        runs,
      );
    });

    it('a group with every watermark equal is aligned at any tolerance, with spread zero', () => {
      fc.assert(
        fc.property(sourceIds, kind.value, kind.tolerance, (sources, v, tolerance) => {
          const r = checkAlignment(
            { name: 'g', sources, tolerance },
            new Map(sources.map((s) => [s, v])),
            ordering,
          );
          expect(r).toMatchObject({ aligned: true, spread: ordering.zero, laggard: [...sources].sort()[0] });
        }),
        runs,
      );
    });
  });
}

suite(timeKind);
suite(numberKind);
suite(bigintKind);
