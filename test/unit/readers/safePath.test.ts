import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveInsideRoot } from '../../../src/backend/safePath';
import { makeTempDir } from './helpers';

describe('resolveInsideRoot', () => {
  let dir: string;
  let cleanup: () => void;
  let root: string;
  before(() => {
    ({ dir, cleanup } = makeTempDir('safepath'));
    root = join(dir, 'root');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'sub', 'a.jpg'), 'x');
    writeFileSync(join(dir, 'secret.jpg'), 'secret');
    symlinkSync(join(dir, 'secret.jpg'), join(root, 'escape.jpg'));
    symlinkSync(join(root, 'sub', 'a.jpg'), join(root, 'inside-link.jpg'));
    symlinkSync(dir, join(root, 'outdir'));
  });
  after(() => cleanup());

  it('accepts a plain relative path and returns its absolute path', async () => {
    const result = await resolveInsideRoot(root, 'sub/a.jpg');
    assert.deepEqual(result, { ok: true, absolute: join(root, 'sub', 'a.jpg') });
  });

  it('accepts a .. that stays inside, and a missing file (reported later as missing)', async () => {
    assert.equal((await resolveInsideRoot(root, 'sub/../sub/a.jpg')).ok, true);
    assert.equal((await resolveInsideRoot(root, 'sub/missing.jpg')).ok, true);
  });

  it('rejects .. escapes, absolute paths, NUL bytes and empty paths', async () => {
    for (const path of ['../secret.jpg', 'sub/../../secret.jpg', '..', join(dir, 'secret.jpg'), '/etc/passwd', 'C:\\Windows\\win.ini', 'a\0.jpg', '']) {
      const result = await resolveInsideRoot(root, path);
      assert.equal(result.ok, false, `should reject ${JSON.stringify(path)}`);
      if (!result.ok) assert.ok(result.reason.length > 0);
    }
  });

  it('rejects symlinks whose target leaves the root, also through a linked folder', async () => {
    const file = await resolveInsideRoot(root, 'escape.jpg');
    assert.equal(file.ok, false);
    if (!file.ok) assert.match(file.reason, /symlink/);
    assert.equal((await resolveInsideRoot(root, 'outdir/secret.jpg')).ok, false);
    assert.equal((await resolveInsideRoot(root, 'outdir/not-there.jpg')).ok, false);
  });

  it('accepts a symlink that stays inside, and a root reached through a symlink', async () => {
    assert.equal((await resolveInsideRoot(root, 'inside-link.jpg')).ok, true);
    const linkedRoot = join(dir, 'root-link');
    symlinkSync(root, linkedRoot);
    assert.equal((await resolveInsideRoot(linkedRoot, 'sub/a.jpg')).ok, true);
    assert.equal((await resolveInsideRoot(linkedRoot, 'escape.jpg')).ok, false);
  });
});
