import assert from 'node:assert/strict';
import { augmentCaption } from '../../../src/core/augment';

describe('caption augmentations (safe-set export)', () => {
  const caption = 'A photo of a red car parked on the street near a big house';

  it('is deterministic for a seed and differs across seeds', () => {
    assert.deepEqual(augmentCaption(caption, 1), augmentCaption(caption, 1));
    const many = new Set([0, 1, 2, 3, 4].map((seed) => JSON.stringify(augmentCaption(caption, seed))));
    assert.ok(many.size > 1);
  });

  it('gives distinct positives that differ from the caption', () => {
    const { positives } = augmentCaption(caption, 0, { positives: 3 });
    assert.equal(positives.length, 3);
    assert.equal(new Set(positives).size, 3);
    assert.ok(positives.every((p) => p !== caption && p.length > 0));
  });

  it('gives negatives that change exactly one noun or adjective (dropped or replaced)', () => {
    const words = caption.split(' ');
    for (let seed = 0; seed < 10; seed++) {
      for (const negative of augmentCaption(caption, seed).negatives) {
        const changed = negative.split(' ');
        if (changed.length === words.length) {
          assert.equal(changed.filter((w, i) => w !== words[i]).length, 1, negative);
        } else {
          assert.equal(changed.length, words.length - 1, negative);
        }
      }
    }
  });

  it('copes with captions it cannot change', () => {
    assert.deepEqual(augmentCaption('', 0), { positives: [], negatives: [] });
    const single = augmentCaption('xyzzy', 0);
    assert.deepEqual(single.negatives, []);
  });
});
