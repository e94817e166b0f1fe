import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  applyDeletion,
  deletedSampleIds,
  DeletionError,
  describePlan,
  listQuarantine,
  planDeletion,
  QUARANTINE_DIR,
  recordRemovedEntries,
  undoLastDeletion,
  type DeletionRow,
} from '../../../src/extension/host/deletion';

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every file below `dir` with its sha256, for before/after comparisons. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.set(full.slice(dir.length + 1), sha(full));
    }
  };
  walk(dir);
  return files;
}

function rowsOf(rows: DeletionRow[]): Map<string, DeletionRow> {
  return new Map(rows.map((r) => [r.id, r]));
}

describe('deletion: plan, quarantine, undo', () => {
  let base: string;
  let root: string;
  let outside: string;

  beforeEach(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'bds-delete-')));
    root = join(base, 'dataset');
    outside = join(base, 'outside');
    const write = (rel: string, content: string | Buffer): void => {
      mkdirSync(dirname(join(base, rel)), { recursive: true });
      writeFileSync(join(base, rel), content);
    };
    write('dataset/a/cat.jpg', Buffer.from([0xff, 0xd8, 1, 2, 3, 0, 255]));
    write('dataset/a/cat.txt', 'a cat <script>alert(1)</script>');
    write('dataset/a/cat.json', '{"key":"1"}');
    write('dataset/a/dog.png', Buffer.from('png-bytes'));
    write('dataset/a/dog.txt', 'a dog');
    write('dataset/b/bird.webp', Buffer.from('webp'));
    write('dataset/shard.tar', 'tar bytes');
    write('outside/secret.jpg', 'secret');
    write('outside/secret.txt', 'secret caption');
    symlinkSync(join(outside, 'secret.jpg'), join(root, 'a', 'link.jpg'));
    symlinkSync(outside, join(root, 'escape'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const rows = (): Map<string, DeletionRow> =>
    rowsOf([
      { id: 'a/cat.jpg', image: 'a/cat.jpg' },
      { id: 'a/dog.png', image: 'a/dog.png' },
      { id: 'b/bird.webp', image: 'b/bird.webp' },
      { id: 'evil-dotdot', image: '../outside/secret.jpg' },
      { id: 'evil-absolute', image: join(outside, 'secret.jpg') },
      { id: 'evil-link', image: 'a/link.jpg' },
      { id: 'evil-dir-link', image: 'escape/secret.jpg' },
      { id: 'evil-quarantine', image: `${QUARANTINE_DIR}/x.jpg` },
      { id: 'shard.tar#000000001', image: 'shard.tar#000000001.jpg' },
      { id: 'declared', image: 'a/dog.png', container: { kind: 'manifest', file: 'meta.csv' } },
    ]);

  it('plans the image and its same-stem sidecars, and nothing else', async () => {
    const plan = await planDeletion(root, rows(), ['a/cat.jpg', 'b/bird.webp']);
    assert.deepEqual(plan.samples, [
      { id: 'a/cat.jpg', files: ['a/cat.jpg', 'a/cat.txt', 'a/cat.json'] },
      { id: 'b/bird.webp', files: ['b/bird.webp'] },
    ]);
    assert.equal(plan.fileCount, 4);
    assert.deepEqual(plan.skipped, []);
    assert.equal(plan.needsCleanCopy, false);
    assert.match(describePlan(plan), /2 sample\(s\), 4 file\(s\)/);
  });

  it('refuses unknown ids, path-like ids, "..", absolute paths and symlink escapes in result rows', async () => {
    const marked = ['/etc/passwd', '../outside/secret.jpg', 'evil-dotdot', 'evil-absolute', 'evil-link', 'evil-dir-link', 'evil-quarantine'];
    const plan = await planDeletion(root, rows(), marked);
    assert.deepEqual(plan.samples, []);
    const reasons = new Map(plan.skipped.map((s) => [s.id, s.reason]));
    assert.match(reasons.get('/etc/passwd') ?? '', /not a sample of this scan/);
    assert.match(reasons.get('../outside/secret.jpg') ?? '', /not a sample of this scan/);
    assert.match(reasons.get('evil-dotdot') ?? '', /escapes/);
    assert.match(reasons.get('evil-absolute') ?? '', /absolute/);
    assert.match(reasons.get('evil-link') ?? '', /symlink/);
    assert.match(reasons.get('evil-dir-link') ?? '', /symlink/);
    assert.match(reasons.get('evil-quarantine') ?? '', /quarantine/);
  });

  it('sends samples held in tars or declared containers to a cleaned copy, never moving the shard', async () => {
    const plan = await planDeletion(root, rows(), ['shard.tar#000000001', 'declared']);
    assert.deepEqual(plan.samples, []);
    assert.deepEqual(plan.containerSamples, [
      { id: 'shard.tar#000000001', container: 'shard.tar' },
      { id: 'declared', container: 'meta.csv' },
    ]);
    assert.equal(plan.needsCleanCopy, true);
    assert.match(describePlan(plan), /never rewritten/);
    const manifestPlan = await planDeletion(root, rows(), ['a/dog.png'], 'imagefolder');
    assert.equal(manifestPlan.needsCleanCopy, true);
  });

  it('moves files into a quarantine entry with a manifest of paths and sha256; nothing outside is touched', async () => {
    const before = snapshot(root);
    const outsideBefore = snapshot(outside);
    const plan = await planDeletion(root, rows(), ['a/cat.jpg', 'a/dog.png', 'evil-link']);
    const entry = await applyDeletion(plan, new Date('2026-11-22T03:00:00Z'));
    assert.ok(entry.dir.startsWith(join(root, QUARANTINE_DIR)));
    assert.equal(entry.manifest.status, 'complete');
    for (const gone of ['a/cat.jpg', 'a/cat.txt', 'a/cat.json', 'a/dog.png', 'a/dog.txt']) assert.equal(existsSync(join(root, gone)), false, gone);
    assert.equal(existsSync(join(root, 'b/bird.webp')), true);
    assert.deepEqual(snapshot(outside), outsideBefore);
    const onDisk = JSON.parse(readFileSync(join(entry.dir, 'manifest.json'), 'utf8')) as typeof entry.manifest;
    assert.deepEqual(onDisk, entry.manifest);
    for (const file of onDisk.files) {
      assert.equal(file.sha256, before.get(file.path));
      assert.equal(sha(join(entry.dir, 'files', file.path)), file.sha256);
    }
    assert.deepEqual([...(await deletedSampleIds(root))].sort(), ['a/cat.jpg', 'a/dog.png']);
    assert.equal(readdirSync(entry.dir).some((n) => n.endsWith('.tmp')), false, 'no temp files left');
  });

  it('undo restores the last deletion byte for byte and removes its entry; an earlier deletion stays', async () => {
    const before = snapshot(root);
    await applyDeletion(await planDeletion(root, rows(), ['b/bird.webp']), new Date('2026-11-22T03:00:00Z'));
    await applyDeletion(await planDeletion(root, rows(), ['a/cat.jpg']), new Date('2026-11-22T03:05:00Z'));
    const undone = await undoLastDeletion(root);
    assert.ok(undone);
    assert.deepEqual(undone.sampleIds, ['a/cat.jpg']);
    assert.equal(undone.restoredFiles, 3);
    for (const path of ['a/cat.jpg', 'a/cat.txt', 'a/cat.json']) assert.equal(sha(join(root, path)), before.get(path));
    assert.equal(existsSync(join(root, 'b/bird.webp')), false);
    assert.equal((await listQuarantine(root)).length, 1);
    await undoLastDeletion(root);
    const after = snapshot(root);
    assert.deepEqual(after, before);
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false, 'empty quarantine folder removed');
    assert.equal(await undoLastDeletion(root), null);
  });

  it('undo refuses, touching nothing, when a quarantined file was altered', async () => {
    const entry = await applyDeletion(await planDeletion(root, rows(), ['a/cat.jpg']));
    writeFileSync(join(entry.dir, 'files', 'a/cat.txt'), 'tampered');
    await assert.rejects(undoLastDeletion(root), (e: unknown) => e instanceof DeletionError && /sha256 mismatch/.test(e.message));
    assert.equal(existsSync(join(root, 'a/cat.jpg')), false, 'nothing restored after a failed check');
  });

  it('undo refuses when a different file now sits at the original path', async () => {
    const entry = await applyDeletion(await planDeletion(root, rows(), ['a/dog.png']));
    writeFileSync(join(root, 'a/dog.png'), 'new file with the same name');
    await assert.rejects(undoLastDeletion(root), /exists again with different content/);
    assert.equal(readFileSync(join(root, 'a/dog.png'), 'utf8'), 'new file with the same name');
    assert.equal(existsSync(join(entry.dir, 'files', 'a/dog.png')), true);
  });

  it('a symlink swapped in after planning is caught before anything moves', async () => {
    const plan = await planDeletion(root, rows(), ['a/cat.jpg']);
    rmSync(join(root, 'a/cat.txt'));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'a/cat.txt'));
    await assert.rejects(applyDeletion(plan), DeletionError);
    assert.equal(existsSync(join(root, 'a/cat.jpg')), true);
    assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'secret caption');
    assert.equal(existsSync(join(root, QUARANTINE_DIR)), false);
  });

  it('files listed by samples.jsonl are used, but a listed path outside the root is dropped', async () => {
    const listed = rowsOf([{ id: 'a/cat.jpg', image: 'a/cat.jpg', files: ['a/cat.jpg', 'a/cat.json', '../outside/secret.txt', join(outside, 'secret.txt')] }]);
    const plan = await planDeletion(root, listed, ['a/cat.jpg']);
    assert.deepEqual(plan.samples, [{ id: 'a/cat.jpg', files: ['a/cat.jpg', 'a/cat.json'] }]);
  });

  it('refuses a quarantine folder that is a symlink leaving the dataset', async () => {
    symlinkSync(outside, join(root, QUARANTINE_DIR));
    const plan = await planDeletion(root, rows(), ['b/bird.webp']);
    await assert.rejects(applyDeletion(plan), /leaves the dataset folder/);
    assert.equal(existsSync(join(root, 'b/bird.webp')), true);
    assert.deepEqual(readdirSync(outside).sort(), ['secret.jpg', 'secret.txt']);
  });

  it('entries sent on to the OS trash keep their samples hidden', async () => {
    const entry = await applyDeletion(await planDeletion(root, rows(), ['a/dog.png']));
    await recordRemovedEntries(root, [entry]);
    rmSync(entry.dir, { recursive: true });
    assert.deepEqual([...(await deletedSampleIds(root))], ['a/dog.png']);
  });
});
