import { strict as assert } from 'node:assert';
import { DETECTOR_NAMES } from '../../../src/core/types';
import { DEFAULT_FLAG_POLICY, resolveSettings } from '../../../src/extension/host/settings';

const reader = (values: Record<string, unknown>) => (key: string): unknown => values[key];

describe('resolveSettings', () => {
  it('uses the defaults when nothing is set', () => {
    const s = resolveSettings(reader({}));
    assert.equal(s.model, undefined);
    assert.equal(s.cacheDir, undefined);
    assert.deepEqual(s.options, { device: 'auto', batchSize: 2048, k: 16, lidK: 64, seed: 0, detectors: [...DETECTOR_NAMES], compat: 'correct' });
    assert.deepEqual(s.policy, DEFAULT_FLAG_POLICY);
    assert.deepEqual(s.warnings, []);
  });

  it('passes valid values through', () => {
    const s = resolveSettings(
      reader({ model: ' /models/clip ', device: 'cuda', batchSize: 0, k: 8, detectors: ['kdist', 'gmm', 'kdist'], flagPolicy: { kind: 'threshold', detector: 'clipScore', threshold: 0.2 }, cacheDirectory: '/cache' }),
    );
    assert.equal(s.model, '/models/clip');
    assert.equal(s.cacheDir, '/cache');
    assert.equal(s.options.device, 'cuda');
    assert.equal(s.options.batchSize, 0);
    assert.equal(s.options.k, 8);
    assert.deepEqual(s.options.detectors, ['kdist', 'gmm']);
    assert.deepEqual(s.policy, { kind: 'threshold', detector: 'clipScore', threshold: 0.2 });
    assert.deepEqual(s.warnings, []);
  });

  it('falls back with a warning for each invalid value', () => {
    const s = resolveSettings(reader({ device: 'tpu', batchSize: -1, k: 2.5, detectors: ['kdist', 'rm -rf'], flagPolicy: { kind: 'top-percent', detector: 'dao', percent: 500 } }));
    assert.equal(s.options.device, 'auto');
    assert.equal(s.options.batchSize, 2048);
    assert.equal(s.options.k, 16);
    assert.deepEqual(s.options.detectors, [...DETECTOR_NAMES]);
    assert.deepEqual(s.policy, DEFAULT_FLAG_POLICY);
    assert.equal(s.warnings.length, 5);
  });
});
