import { strict as assert } from 'node:assert';
import { applyMarks, ResultsIndex, type MementoLike } from '../../../src/extension/host/resultsIndex';
import type { PanelState } from '../../../src/protocol/webview';

/** workspaceState double that, like VS Code's, stores JSON copies. */
class MemoryMemento implements MementoLike {
  readonly data = new Map<string, string>();
  get<T>(key: string): T | undefined {
    const text = this.data.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }
  async update(key: string, value: unknown): Promise<void> {
    if (value === undefined) this.data.delete(key);
    else this.data.set(key, JSON.stringify(value));
  }
}

describe('ResultsIndex (per-dataset persistence)', () => {
  it('maps each dataset to its results folder and remembers the last one', async () => {
    const store = new MemoryMemento();
    const index = new ResultsIndex(store);
    assert.equal(index.last(), undefined);
    await index.record('/data/a', '/cache/results/aaa', '2026-11-20T10:00:00Z');
    await index.record('/data/b/', '/cache/results/bbb', '2026-11-21T10:00:00Z');
    assert.equal(index.get('/data/a')?.resultsDir, '/cache/results/aaa');
    assert.equal(index.get('/data/b')?.resultsDir, '/cache/results/bbb', 'trailing slash normalised');
    assert.equal(index.get('/data/x/../a')?.resultsDir, '/cache/results/aaa');
    assert.equal(index.last()?.dataset, '/data/b');
    await index.touch('/data/a');
    assert.equal(index.last()?.dataset, '/data/a');
    assert.deepEqual(index.all().map((r) => r.dataset), ['/data/b', '/data/a']);
    // A new index over the same store (a window reload) sees the same mapping.
    assert.equal(new ResultsIndex(store).get('/data/b')?.finishedAt, '2026-11-21T10:00:00Z');
  });

  it('a rescan replaces the record; forget removes record, marks and state', async () => {
    const index = new ResultsIndex(new MemoryMemento());
    await index.record('/data/a', '/r/1', '2026-11-20T10:00:00Z');
    await index.record('/data/a', '/r/2', '2026-11-22T10:00:00Z');
    assert.equal(index.all().length, 1);
    assert.equal(index.get('/data/a')?.resultsDir, '/r/2');
    await index.setMarked('/data/a', ['x']);
    const state: PanelState = { sortBy: 'lid', policy: { kind: 'risky' }, view: 'table', filter: { flaggedOnly: true, riskyOnly: false, errorsOnly: false, markedOnly: false, search: '' } };
    await index.setPanelState('/data/a', state);
    assert.deepEqual(index.panelState('/data/a'), state);
    await index.forget('/data/a');
    assert.equal(index.get('/data/a'), undefined);
    assert.deepEqual(index.marked('/data/a'), []);
    assert.equal(index.panelState('/data/a'), undefined);
    assert.equal(index.last(), undefined);
  });

  it('keeps marks per dataset', async () => {
    const index = new ResultsIndex(new MemoryMemento());
    await index.setMarked('/data/a', ['1', '2']);
    await index.setMarked('/data/b', ['3']);
    assert.deepEqual(index.marked('/data/a'), ['1', '2']);
    assert.deepEqual(index.marked('/data/b'), ['3']);
    await index.setMarked('/data/a', []);
    assert.deepEqual(index.marked('/data/a'), []);
  });

  it('survives a corrupted store value', () => {
    const store = new MemoryMemento();
    store.data.set('backdoorScanner.results', '"not an object"');
    assert.equal(new ResultsIndex(store).get('/data/a'), undefined);
  });
});

describe('applyMarks', () => {
  it('adds without duplicates, keeps order, removes', () => {
    assert.deepEqual(applyMarks(['a', 'b'], ['b', 'c', 'c'], true), ['a', 'b', 'c']);
    assert.deepEqual(applyMarks(['a', 'b', 'c'], ['b', 'z'], false), ['a', 'c']);
  });
});
