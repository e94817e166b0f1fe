/** Metrics vs scikit-learn roc_auc_score / average_precision_score / roc_curve. */
import assert from 'node:assert/strict';
import { auroc, fprAtTpr, prAuc } from '../../../src/core/metrics';
import { loadJson } from './helpers';

describe('metrics', () => {
  const { metrics } = loadJson<{ metrics: { scores: number[]; labels: number[]; auroc: number; ap: number; fprAt95: number } }>('extra.json');

  it('match sklearn on tied scores', () => {
    assert.ok(Math.abs(auroc(metrics.scores, metrics.labels) - metrics.auroc) < 1e-12);
    assert.ok(Math.abs(prAuc(metrics.scores, metrics.labels) - metrics.ap) < 1e-12);
    assert.ok(Math.abs(fprAtTpr(metrics.scores, metrics.labels) - metrics.fprAt95) < 1e-12);
  });

  it('count ties as ½ and rank missing scores lowest', () => {
    assert.equal(auroc([1, 1], [1, 0]), 0.5);
    assert.equal(auroc([3, 2, 1], [1, 0, 0]), 1);
    assert.equal(auroc([null, 2, NaN], [1, 0, 0]), 0.25); // null ties with NaN below 2
    assert.equal(fprAtTpr([3, 2, 1, 0], [1, 0, 1, 0], 0.95), 0.5);
    assert.equal(prAuc([3, 2, 1, 0], [1, 0, 1, 0]), (1 + 2 / 3) / 2);
  });

  it('are NaN without both classes and refuse mismatched lengths', () => {
    assert.ok(Number.isNaN(auroc([1, 2], [0, 0])));
    assert.ok(Number.isNaN(prAuc([1, 2], [1, 1])));
    assert.ok(Number.isNaN(fprAtTpr([1, 2], [1, 1])));
    assert.throws(() => auroc([1], [1, 0]), /1 scores but 2 labels/);
  });
});
