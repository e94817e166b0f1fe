import { strict as assert } from 'node:assert';
import { findUnknownIds, MESSAGE_LIMITS, parseWebviewMessage, sampleIdsNamedBy } from '../../../src/protocol/validate';
import type { PanelState } from '../../../src/protocol/webview';

const goodState: PanelState = {
  sortBy: 'dao',
  policy: { kind: 'top-percent', detector: 'dao', percent: 1 },
  view: 'grid',
  filter: { flaggedOnly: false, riskyOnly: true, errorsOnly: false, markedOnly: false, search: '<img src=x onerror=alert(1)>' },
};

function refused(raw: unknown): string {
  const result = parseWebviewMessage(raw);
  assert.equal(result.ok, false, `expected refusal of ${JSON.stringify(raw)?.slice(0, 100)}`);
  return result.ok ? '' : result.reason;
}

describe('parseWebviewMessage', () => {
  it('accepts every well-formed message type and returns a fresh copy', () => {
    const messages: unknown[] = [
      { type: 'ready' },
      { type: 'requestThumbnails', ids: ['a/b.jpg', '00000/000000001'] },
      { type: 'requestNeighbours', id: 'x.png' },
      { type: 'setMarked', ids: ['a'], marked: true },
      { type: 'applyDeletions' },
      { type: 'undoDeletion' },
      { type: 'export', format: 'clean-manifest' },
      { type: 'saveState', state: goodState },
      { type: 'saveState', state: { ...goodState, policy: { kind: 'threshold', detector: 'clipScore', threshold: -0.2 } } },
      { type: 'saveState', state: { ...goodState, policy: { kind: 'risky' } } },
      { type: 'rescan' },
    ];
    for (const raw of messages) {
      const result = parseWebviewMessage(raw);
      assert.ok(result.ok, JSON.stringify(raw));
      assert.deepEqual(result.message, raw);
      assert.notEqual(result.message, raw);
    }
  });

  it('refuses non-objects, unknown types and prototype tricks', () => {
    for (const raw of [null, undefined, 42, 'ready', [], [{ type: 'ready' }], { type: 'deleteFile' }, { type: 'constructor' }, { type: '__proto__' }]) {
      refused(raw);
    }
    refused(Object.create({ type: 'ready' }));
    class Sneaky {
      type = 'ready';
    }
    refused(new Sneaky());
  });

  it('refuses extra or missing fields', () => {
    assert.match(refused({ type: 'ready', path: '/etc/passwd' }), /unexpected field 'path'/);
    assert.match(refused({ type: 'setMarked', ids: ['a'] }), /lacks 'marked'/);
    refused({ type: 'applyDeletions', ids: ['a'] });
    refused({ type: 'requestNeighbours' });
    refused({ type: 'export', format: 'csv', outPath: '/tmp/x.csv' });
  });

  it('refuses wrong types inside fields', () => {
    refused({ type: 'setMarked', ids: 'a', marked: true });
    refused({ type: 'setMarked', ids: ['a'], marked: 'yes' });
    refused({ type: 'setMarked', ids: [1, 2], marked: true });
    refused({ type: 'setMarked', ids: [{ toString: () => 'a' }], marked: true });
    refused({ type: 'requestNeighbours', id: '' });
    refused({ type: 'requestNeighbours', id: 'a\u0000b' });
    refused({ type: 'requestNeighbours', id: 'a\nb' });
    refused({ type: 'export', format: 'exe' });
  });

  it('refuses oversized arrays and strings', () => {
    const tooMany = Array.from({ length: MESSAGE_LIMITS.thumbnailIds + 1 }, (_, i) => `id${i}`);
    assert.match(refused({ type: 'requestThumbnails', ids: tooMany }), /at most 512/);
    const justEnough = tooMany.slice(0, MESSAGE_LIMITS.thumbnailIds);
    assert.ok(parseWebviewMessage({ type: 'requestThumbnails', ids: justEnough }).ok);
    refused({ type: 'requestNeighbours', id: 'x'.repeat(MESSAGE_LIMITS.idLength + 1) });
    refused({ type: 'saveState', state: { ...goodState, filter: { ...goodState.filter, search: 's'.repeat(MESSAGE_LIMITS.searchLength + 1) } } });
    // A sparse array claiming a huge length is refused by its length before anything is read.
    const sparse: unknown[] = [];
    sparse.length = MESSAGE_LIMITS.markedIds + 1;
    refused({ type: 'setMarked', ids: sparse, marked: true });
  });

  it('refuses malformed panel state and flag policies', () => {
    refused({ type: 'saveState', state: { ...goodState, sortBy: 'gmm' } });
    refused({ type: 'saveState', state: { ...goodState, view: 'list' } });
    refused({ type: 'saveState', state: { ...goodState, policy: { kind: 'top-percent', detector: 'dao', percent: 101 } } });
    refused({ type: 'saveState', state: { ...goodState, policy: { kind: 'top-percent', detector: 'dao', percent: Number.NaN } } });
    refused({ type: 'saveState', state: { ...goodState, policy: { kind: 'threshold', detector: 'dao', threshold: Infinity } } });
    refused({ type: 'saveState', state: { ...goodState, policy: { kind: 'risky', detector: 'dao' } } });
    refused({ type: 'saveState', state: { ...goodState, filter: { ...goodState.filter, extra: true } } });
  });

  it('never throws, even on getters that throw and proxies', () => {
    const trap = new Proxy({}, { ownKeys: () => { throw new Error('boom'); }, getPrototypeOf: () => Object.prototype, get: () => 'ready' });
    assert.equal(parseWebviewMessage(trap).ok, false);
    const getter = { get type(): string { throw new Error('boom'); } };
    assert.equal(parseWebviewMessage(getter).ok, false);
  });
});

describe('findUnknownIds', () => {
  const known = new Set(['a/b.jpg', '00000/000000001']);
  it('accepts ids of the owned scan', () => {
    assert.deepEqual(findUnknownIds(['a/b.jpg', '00000/000000001'], known), []);
  });
  it('names path-like and unknown ids, bounded', () => {
    assert.deepEqual(findUnknownIds(['/etc/passwd', 'a/b.jpg', '../a/b.jpg', 'a/./b.jpg', 'A/B.JPG'], known), ['/etc/passwd', '../a/b.jpg', 'a/./b.jpg', 'A/B.JPG']);
    const many = Array.from({ length: 50 }, (_, i) => `x${i}`);
    assert.equal(findUnknownIds(many, known).length, 5);
  });
});

describe('ownership check of a parsed message', () => {
  const known = new Set(['a/b.jpg']);
  const unknownIn = (raw: unknown): string[] => {
    const parsed = parseWebviewMessage(raw);
    assert.ok(parsed.ok);
    return findUnknownIds(sampleIdsNamedBy(parsed.message), known);
  };
  it('refuses marking or previewing a path that is not a sample of the scan', () => {
    assert.deepEqual(unknownIn({ type: 'setMarked', ids: ['a/b.jpg', '/home/user/.ssh/id_rsa'], marked: true }), ['/home/user/.ssh/id_rsa']);
    assert.deepEqual(unknownIn({ type: 'requestThumbnails', ids: ['../../etc/shadow'] }), ['../../etc/shadow']);
    assert.deepEqual(unknownIn({ type: 'requestNeighbours', id: 'a/b.jpg/..' }), ['a/b.jpg/..']);
  });
  it('lets messages without ids and known ids through', () => {
    assert.deepEqual(unknownIn({ type: 'applyDeletions' }), []);
    assert.deepEqual(unknownIn({ type: 'setMarked', ids: ['a/b.jpg'], marked: false }), []);
  });
});
