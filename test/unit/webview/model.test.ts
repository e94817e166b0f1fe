import { strict as assert } from 'node:assert';
import { flaggedMask, suspicionValue } from '../../../src/core/flags';
import type { SampleResult } from '../../../src/core/types';
import { DEFAULT_PANEL_STATE, ResultsModel, histogram, rawThreshold, sanitizeState, sortOrder } from '../../../webview/src/model';
import { syntheticRows } from '../../webview-harness/synthetic';

function row(id: string, scores: SampleResult['scores'], extra: Partial<SampleResult> = {}): SampleResult {
  return { id, image: `${id}.jpg`, caption: `caption ${id}`, error: null, scores, safeProbability: 0.95, safe: true, ...extra };
}

describe('webview model', () => {
  const rows = syntheticRows(2000, 11);

  it('sorts by suspicion: higher first for distances, clipScore ascending, unscored then errors last', () => {
    const small = [
      row('a', { kdist: 1, clipScore: 0.3 }),
      row('err', undefined, { error: 'corrupt', scores: undefined }),
      row('b', { kdist: 3, clipScore: 0.1 }),
      row('none', { kdist: null, clipScore: null }),
      row('c', { kdist: 2, clipScore: 0.2 }),
    ];
    const ids = (key: 'kdist' | 'clipScore'): string[] => [...sortOrder(small, key)].map((i) => small[i].id);
    assert.deepEqual(ids('kdist'), ['b', 'c', 'a', 'none', 'err']);
    assert.deepEqual(ids('clipScore'), ['b', 'c', 'a', 'none', 'err']);
  });

  it('orders 2,000 synthetic rows by non-increasing suspicion for every detector', () => {
    for (const key of ['kdist', 'lid', 'slof', 'dao', 'iforest', 'clipScore'] as const) {
      const order = sortOrder(rows, key);
      assert.equal(new Set(order).size, rows.length);
      let previous = Infinity;
      let seenError = false;
      for (const i of order) {
        if (rows[i].error !== null) {
          seenError = true;
          continue;
        }
        assert.equal(seenError, false, 'error rows come last');
        const value = suspicionValue(rows[i], key) ?? -Infinity;
        assert.ok(value <= previous, `${key}: ${value} after ${previous}`);
        previous = value;
      }
    }
  });

  it('counts flagged rows exactly as src/core/flags.ts does, for every policy kind', () => {
    const model = new ResultsModel();
    model.setRows(rows, [], DEFAULT_PANEL_STATE);
    for (const policy of [
      { kind: 'top-percent', detector: 'dao', percent: 2.5 },
      { kind: 'threshold', detector: 'clipScore', threshold: 0.2 },
      { kind: 'threshold', detector: 'kdist', threshold: 1.4 },
      { kind: 'risky' },
    ] as const) {
      model.setPolicy(policy);
      const expected = flaggedMask(rows, policy).filter(Boolean).length;
      assert.equal(model.counts().flagged, expected, JSON.stringify(policy));
      assert.equal(model.flaggedIds().length, expected);
    }
  });

  it('filters combine (flagged, risky, errors, marked, search) and keep the sort order', () => {
    const model = new ResultsModel();
    model.setRows(rows, [rows[5].id, rows[9].id], { ...DEFAULT_PANEL_STATE, sortBy: 'dao', policy: { kind: 'top-percent', detector: 'dao', percent: 5 } });
    const flags = flaggedMask(rows, model.state.policy);
    model.setFilter({ flaggedOnly: true });
    assert.equal(model.visible.length, flags.filter(Boolean).length);
    model.setFilter({ flaggedOnly: false, errorsOnly: true });
    assert.equal(model.visible.length, rows.filter((r) => r.error !== null).length);
    model.setFilter({ errorsOnly: false, markedOnly: true });
    assert.deepEqual(new Set([...model.visible].map((i) => rows[i].id)), new Set([rows[5].id, rows[9].id]));
    model.setFilter({ markedOnly: false, riskyOnly: true, search: 'BANANA' });
    const expected = rows.filter((r) => r.error === null && r.safe === false && (r.caption ?? '').toLowerCase().includes('banana'));
    assert.equal(model.visible.length, expected.length);
    assert.ok(expected.length > 0);
    const order = [...sortOrder(rows, 'dao')].filter((i) => model.visible.includes(i));
    assert.deepEqual([...model.visible], order);
  });

  it('ignores marked ids the scan does not know', () => {
    const model = new ResultsModel();
    model.setRows(rows.slice(0, 10), [rows[1].id, '../../etc/passwd'], DEFAULT_PANEL_STATE);
    model.updateMarked(['nope', rows[2].id], true);
    assert.deepEqual([...model.marked].sort(), [rows[1].id, rows[2].id].sort());
  });

  it('maps the policy threshold back to raw score units (clipScore is negated suspicion)', () => {
    assert.equal(rawThreshold(rows, { kind: 'threshold', detector: 'clipScore', threshold: 0.21 }), 0.21);
    const top = rawThreshold(rows, { kind: 'top-percent', detector: 'clipScore', percent: 1 });
    assert.ok(top !== null);
    const below = rows.filter((r) => r.error === null && (r.scores?.clipScore ?? Infinity) <= top).length;
    assert.equal(below, flaggedMask(rows, { kind: 'top-percent', detector: 'clipScore', percent: 1 }).filter(Boolean).length);
  });

  it('histogram counts every finite value once', () => {
    const h = histogram(rows, 'kdist', 64);
    assert.equal(h.counts.reduce((a, b) => a + b, 0), h.total);
    assert.equal(h.total, rows.filter((r) => r.error === null).length);
    assert.ok(h.min < h.max);
  });

  it('sanitizes stored state from an older or hostile source', () => {
    const state = sanitizeState({ sortBy: 'nope', view: 'x', policy: { kind: 'threshold', detector: 'lid', threshold: 'NaN' }, filter: { flaggedOnly: 'yes', search: 3 } });
    assert.equal(state.sortBy, 'kdist');
    assert.equal(state.view, 'grid');
    assert.deepEqual(state.policy, { kind: 'top-percent', detector: 'lid', percent: 1 });
    assert.deepEqual(state.filter, { flaggedOnly: false, riskyOnly: false, errorsOnly: false, markedOnly: false, search: '' });
    assert.deepEqual(sanitizeState({ ...DEFAULT_PANEL_STATE, view: 'table' }), { ...DEFAULT_PANEL_STATE, view: 'table' });
  });
});
