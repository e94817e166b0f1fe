import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { detectLayout, openDataset } from '../../../src/backend/readers/index';
import { byId, collect, HOSTILE_CAPTIONS, imageBytes, makeTempDir, parquetBytes, tarBuffer, writeFile } from './helpers';

describe('dataset readers', () => {
  let dir: string;
  let cleanup: () => void;
  let red: Buffer;
  let green: Buffer;
  let blue: Buffer;
  let n = 0;
  const fresh = (name: string) => {
    const path = join(dir, `${name}-${n++}`);
    mkdirSync(path, { recursive: true });
    return path;
  };
  before(async () => {
    ({ dir, cleanup } = makeTempDir('readers'));
    red = await imageBytes([255, 0, 0]);
    green = await imageBytes([0, 255, 0], 'jpeg');
    blue = await imageBytes([0, 0, 255]);
  });
  after(() => cleanup());

  describe('sidecar folders', () => {
    it('finds images recursively in a stable order, with same-stem captions (optional) byte for byte', async () => {
      const root = fresh('sidecar');
      writeFile(root, 'b.png', red);
      writeFile(root, 'b.txt', HOSTILE_CAPTIONS[0]);
      writeFile(root, 'a/x.JPG', green);
      writeFile(root, 'a/x.txt', '\uFEFF' + HOSTILE_CAPTIONS[2]);
      writeFile(root, 'a/y.webp', blue);
      writeFile(root, 'a/y.json', '{}');
      writeFile(root, 'notes.md', 'not a sample');
      writeFile(root, '.hidden/z.png', red);
      assert.equal(await detectLayout(root), 'sidecar');
      const reader = await openDataset(root);
      assert.equal(reader.layout, 'sidecar');
      const samples = await collect(reader);
      assert.deepEqual(samples.map((s) => s.id), ['a/x.JPG', 'a/y.webp', 'b.png']);
      assert.equal(byId(samples, 'b.png').caption, HOSTILE_CAPTIONS[0]);
      assert.equal(byId(samples, 'a/x.JPG').caption, HOSTILE_CAPTIONS[2], 'BOM dropped, NUL kept');
      assert.equal(byId(samples, 'a/y.webp').caption, null);
      assert.deepEqual(byId(samples, 'a/x.JPG').ownedFiles, ['a/x.JPG', 'a/x.txt']);
      assert.deepEqual(byId(samples, 'a/y.webp').ownedFiles, ['a/y.webp', 'a/y.json']);
      assert.deepEqual(await byId(samples, 'b.png').readImage(), red);
      assert.ok(samples.every((s) => s.error === null && s.container === null));
      const again = await collect(await openDataset(root));
      assert.deepEqual(again.map((s) => [s.id, s.contentKey]), samples.map((s) => [s.id, s.contentKey]));
    });

    it('returns every hostile caption byte for byte', async () => {
      const root = fresh('hostile');
      HOSTILE_CAPTIONS.forEach((caption, i) => {
        writeFile(root, `${i}.png`, red);
        writeFile(root, `${i}.txt`, caption);
      });
      const samples = await collect(await openDataset(root, { layout: 'sidecar' }));
      assert.deepEqual(samples.map((s) => s.caption), HOSTILE_CAPTIONS);
    });

    it('turns empty, escaping and oversized-caption samples into error rows and keeps going', async () => {
      const root = fresh('broken');
      writeFile(root, 'empty.jpg', new Uint8Array(0));
      writeFile(root, 'good.png', red);
      writeFileSync(join(dir, 'outside.png'), red);
      symlinkSync(join(dir, 'outside.png'), join(root, 'link-out.png'));
      writeFile(root, 'big.png', red);
      writeFile(root, 'big.txt', 'x'.repeat((1 << 20) + 1));
      symlinkSync(join(dir, 'outside.png'), join(root, 'capout.png'));
      symlinkSync(join(dir, 'outside.png'), join(root, 'capout.txt'));
      symlinkSync(join(root, 'nowhere.png'), join(root, 'dangling.png'));
      const samples = await collect(await openDataset(root));
      assert.match(byId(samples, 'empty.jpg').error ?? '', /empty file \(0 bytes\)/);
      assert.match(byId(samples, 'link-out.png').error ?? '', /symlink/);
      assert.match(byId(samples, 'big.png').error ?? '', /limit/);
      assert.match(byId(samples, 'capout.png').error ?? '', /caption .*symlink/);
      assert.equal(byId(samples, 'dangling.png').error, 'missing file');
      assert.equal(byId(samples, 'good.png').error, null);
      await assert.rejects(byId(samples, 'empty.jpg').readImage(), /error row/);
    });

    it('looks samples up by id, with the same content as enumeration', async () => {
      const root = fresh('byid');
      writeFile(root, 'a/b.png', red);
      writeFile(root, 'a/b.txt', 'cap');
      const reader = await openDataset(root);
      const [listed] = await collect(reader);
      const found = await reader.sampleById('a/b.png');
      assert.ok(found);
      assert.deepEqual({ ...found, readImage: null }, { ...listed, readImage: null });
      assert.equal(await reader.sampleById('a/missing.png'), null);
      assert.equal(await reader.sampleById('../x.png'), null);
    });

    it('changes contentKey when the image file changes', async () => {
      const root = fresh('content');
      writeFile(root, 'a.png', red);
      const before = (await collect(await openDataset(root)))[0].contentKey;
      writeFile(root, 'a.png', blue);
      utimesSync(join(root, 'a.png'), new Date(5000), new Date(5000));
      const after = (await collect(await openDataset(root)))[0].contentKey;
      assert.notEqual(before, after);
    });
  });

  describe('manifests', () => {
    it('reads a CSV manifest with guessed columns, dedupes repeated paths and confines paths to the folder', async () => {
      const root = fresh('manifest');
      writeFile(root, 'img/a.png', red);
      writeFile(root, 'img/b.jpg', green);
      writeFile(root, 'img/dir.png/keep', 'x');
      writeFileSync(join(dir, 'secret.png'), red);
      symlinkSync(join(dir, 'secret.png'), join(root, 'img', 'sneaky.png'));
      const rows = [
        'filepath,title,other',
        'img/a.png,"a ""red"", square\r\nline two",1',
        './img/a.png,again,2',
        'img/b.jpg,,3',
        '../secret.png,escape,4',
        `${join(dir, 'secret.png')},absolute,5`,
        'img/sneaky.png,symlink,6',
        'img/missing.png,missing,7',
        'img/dir.png,folder,8',
        'https://example.com/x.jpg,url,9',
        ',no path,10',
        'too,many,fields,here',
      ];
      writeFile(root, 'list.csv', '\uFEFF' + rows.join('\r\n'));
      const reader = await openDataset(root, { manifest: 'list.csv' });
      assert.equal(reader.layout, 'manifest');
      const samples = await collect(reader);
      assert.equal(samples.length, rows.length - 1);
      assert.deepEqual(samples.slice(0, 3).map((s) => s.id), ['img/a.png', 'img/a.png#2', 'img/b.jpg']);
      assert.equal(samples[0].caption, 'a "red", square\r\nline two');
      assert.equal(samples[2].caption, '');
      assert.deepEqual(samples[0].ownedFiles, [], 'an image named by two rows is owned by neither');
      assert.deepEqual(samples[2].ownedFiles, ['img/b.jpg']);
      assert.deepEqual(samples[2].container, { kind: 'manifest', file: 'list.csv' });
      const errors = samples.slice(3).map((s) => s.error ?? '');
      assert.match(errors[0], /escapes/);
      assert.match(errors[1], /absolute/);
      assert.match(errors[2], /symlink/);
      assert.equal(errors[3], 'missing file');
      assert.match(errors[4], /not a file/);
      assert.match(errors[5], /URL/);
      assert.match(errors[6], /no image path/);
      assert.match(errors[7], /4 fields/);
      assert.equal(new Set(samples.map((s) => s.id)).size, samples.length, 'ids are unique');
      assert.deepEqual(await samples[2].readImage(), green);
      for (const sample of [samples[1], samples[2], samples[3], samples[10]]) {
        const found = await reader.sampleById(sample.id);
        assert.deepEqual({ ...found, readImage: null }, { ...sample, readImage: null });
      }
      assert.equal(await reader.sampleById('img/nothing.png'), null);
    });

    it('reads TSV, JSONL and Parquet manifests, with explicit columns', async () => {
      const root = fresh('manifests');
      writeFile(root, 'a.png', red);
      writeFile(root, 'b.png', blue);
      writeFile(root, 'm.tsv', 'pic\tdesc\na.png\t"tab\there"\nb.png\t<b>x</b>\n');
      writeFile(root, 'm.jsonl', HOSTILE_CAPTIONS.map((caption, i) => JSON.stringify({ image: i % 2 ? 'a.png' : 'b.png', text: caption })).join('\n'));
      writeFile(root, 'm.parquet', parquetBytes([
        { name: 'image_path', data: ['a.png', 'b.png'], type: 'STRING' },
        { name: 'caption', data: [HOSTILE_CAPTIONS[1], HOSTILE_CAPTIONS[6]], type: 'STRING' },
      ]));
      const tsv = await collect(await openDataset(root, { manifest: 'm.tsv', imageColumn: 'pic', captionColumn: 'desc' }));
      assert.deepEqual(tsv.map((s) => s.caption), ['tab\there', '<b>x</b>']);
      const jsonl = await collect(await openDataset(root, { manifest: join(root, 'm.jsonl') }));
      assert.deepEqual(jsonl.map((s) => s.caption), HOSTILE_CAPTIONS);
      const parquet = await collect(await openDataset(root, { manifest: 'm.parquet' }));
      assert.deepEqual(parquet.map((s) => [s.id, s.caption]), [['a.png', HOSTILE_CAPTIONS[1]], ['b.png', HOSTILE_CAPTIONS[6]]]);
      await assert.rejects(collect(await openDataset(root, { manifest: 'm.tsv' })), /no image-path column.*"pic"/);
      await assert.rejects(collect(await openDataset(root, { manifest: 'm.tsv', imageColumn: 'pic', captionColumn: 'nope' })), /caption column "nope"/);
    });
  });

  describe('Hugging Face imagefolder', () => {
    it('reads metadata.jsonl with file_name relative to it and text captions', async () => {
      const root = fresh('hf');
      writeFile(root, 'train/0.png', red);
      writeFile(root, 'train/sub/1.png', blue);
      writeFile(root, 'train/metadata.jsonl', [
        JSON.stringify({ file_name: '0.png', text: 'zero', caption: 'ignored' }),
        JSON.stringify({ file_name: 'sub/1.png', text: HOSTILE_CAPTIONS[3] }),
        JSON.stringify({ file_name: '../../x.png', text: 'escape' }),
      ].join('\n'));
      assert.equal(await detectLayout(root), 'imagefolder');
      const samples = await collect(await openDataset(root));
      assert.deepEqual(samples.map((s) => [s.id, s.caption]), [['train/0.png', 'zero'], ['train/sub/1.png', HOSTILE_CAPTIONS[3]], ['../x.png', 'escape']]);
      assert.match(samples[2].error ?? '', /escapes/);
      assert.deepEqual(await samples[1].readImage(), blue);
    });

    it('reads metadata.csv and metadata.parquet at the root, caption column when there is no text', async () => {
      const root = fresh('hfcsv');
      writeFile(root, 'a.png', red);
      writeFile(root, 'metadata.csv', 'file_name,caption\na.png,"x,y"\n');
      assert.deepEqual((await collect(await openDataset(root))).map((s) => s.caption), ['x,y']);
      const root2 = fresh('hfparquet');
      writeFile(root2, 'a.png', red);
      writeFile(root2, 'metadata.parquet', parquetBytes([
        { name: 'file_name', data: ['a.png'], type: 'STRING' },
        { name: 'text', data: ['from parquet'], type: 'STRING' },
      ]));
      assert.deepEqual((await collect(await openDataset(root2))).map((s) => s.caption), ['from parquet']);
    });
  });

  describe('img2dataset files', () => {
    it('reads shard folders, skips non-success rows (json sidecar first, then the shard parquet)', async () => {
      const root = fresh('files');
      writeFile(root, '00000/000000000.jpg', green);
      writeFile(root, '00000/000000000.txt', 'first caption');
      writeFile(root, '00000/000000000.json', JSON.stringify({ key: '000000000', status: 'success', caption: 'json caption' }));
      writeFile(root, '00000/000000001.jpg', green);
      writeFile(root, '00000/000000001.json', JSON.stringify({ key: '000000001', status: 'failed_to_resize' }));
      writeFile(root, '00000/000000002.png', red);
      writeFile(root, '00000/000000003.jpg', blue);
      writeFile(root, '00000.parquet', parquetBytes([
        { name: 'key', data: ['000000000', '000000001', '000000002', '000000003', '000000004', '000000005'], type: 'STRING' },
        { name: 'caption', data: ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'], type: 'STRING' },
        { name: 'status', data: ['success', 'failed_to_resize', 'success', 'failed_to_download', 'success', 'failed_to_download'], type: 'STRING' },
      ]));
      writeFile(root, '00000_stats.json', '{}');
      writeFile(root, '00001/000010000.jpg', green);
      writeFile(root, '00001_stats.json', '{}');
      assert.equal(await detectLayout(root), 'img2dataset-files');
      const reader = await openDataset(root);
      const samples = await collect(reader);
      assert.deepEqual(samples.map((s) => s.id), ['00000/000000000.jpg', '00000/000000002.png', '00000/000000004', '00001/000010000.jpg']);
      assert.equal(samples[0].caption, 'first caption');
      assert.deepEqual(samples[0].ownedFiles, ['00000/000000000.jpg', '00000/000000000.json', '00000/000000000.txt']);
      assert.equal(samples[1].caption, 'p2', 'falls back to the parquet caption');
      assert.match(samples[2].error ?? '', /missing file/);
      assert.equal(samples[3].caption, null);
      assert.equal((await reader.sampleById('00000/000000002.png'))?.caption, 'p2');
      assert.equal(await reader.sampleById('00000/000000003.jpg'), null, 'a failed row is not a sample');
    });
  });

  describe('img2dataset webdataset', () => {
    it('groups tar members by key, reads images in place, skips failed rows and follows no links', async () => {
      const root = fresh('wds');
      const longKey = `${'d'.repeat(120)}/000000009`;
      writeFile(root, '00000.tar', await tarBuffer([
        { name: '000000000.jpg', data: green },
        { name: '000000000.txt', data: HOSTILE_CAPTIONS[5] },
        { name: '000000000.json', data: JSON.stringify({ status: 'success' }) },
        { name: '000000001.png', data: red },
        { name: '000000001.json', data: JSON.stringify({ status: 'failed_to_download' }) },
        { name: '000000002.txt', data: 'caption without image' },
        { name: '000000003.png', data: Buffer.alloc(0) },
        { name: 'link.jpg', data: '', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'adir', data: '', type: 'directory' },
        { name: `${longKey}.webp`, data: blue },
        { name: `${longKey}.txt`, data: 'long name' },
      ]));
      writeFile(root, '00001.tar', await tarBuffer([{ name: '000010000.png', data: blue }, { name: '000010000.txt', data: HOSTILE_CAPTIONS[6] }]));
      writeFile(root, '00000.parquet', parquetBytes([{ name: 'key', data: ['x'], type: 'STRING' }]));
      assert.equal(await detectLayout(root), 'webdataset');
      const reader = await openDataset(root);
      const samples = await collect(reader);
      assert.deepEqual(samples.map((s) => s.id), ['00000.tar#000000000', '00000.tar#000000002', '00000.tar#000000003', `00000.tar#${longKey}`, '00001.tar#000010000']);
      assert.equal(samples[0].caption, HOSTILE_CAPTIONS[5]);
      assert.equal(samples[0].image, '00000.tar#000000000.jpg');
      assert.deepEqual(await samples[0].readImage(), green);
      assert.match(samples[1].error ?? '', /no image/);
      assert.match(samples[2].error ?? '', /empty/);
      assert.deepEqual(await samples[3].readImage(), blue);
      assert.equal(samples[3].caption, 'long name');
      assert.equal(samples[4].caption, HOSTILE_CAPTIONS[6]);
      assert.deepEqual(samples[0].container, { kind: 'tar', file: '00000.tar' });
      assert.deepEqual(samples[0].ownedFiles, []);
      const found = await reader.sampleById('00001.tar#000010000');
      assert.deepEqual(await found?.readImage(), blue);
      assert.equal(await reader.sampleById('00000.tar#000000001'), null);
    });

    it('keeps the samples before a damaged region and reports the damage as one error row', async () => {
      const root = fresh('wdsbad');
      const whole = await tarBuffer([{ name: '0.png', data: red }, { name: '1.png', data: blue }]);
      const damaged = Buffer.from(whole);
      damaged.fill(7, 1024, 1100); // second header
      writeFile(root, '00000.tar', damaged);
      const samples = await collect(await openDataset(root, { layout: 'webdataset' }));
      assert.deepEqual(samples.map((s) => s.id), ['00000.tar#0', '00000.tar#']);
      assert.match(samples[1].error ?? '', /damaged/);
      assert.deepEqual(await samples[0].readImage(), red);
    });
  });

  describe('img2dataset parquet', () => {
    it('reads inline image bytes, captions and keys, skipping non-success rows', async () => {
      const root = fresh('pq');
      const images = [green, red, blue, Buffer.alloc(0)];
      writeFile(root, '00000.parquet', parquetBytes([
        { name: 'key', data: ['000000000', '000000001', '000000002', '000000003'], type: 'STRING' },
        { name: 'caption', data: [HOSTILE_CAPTIONS[0], 'failed', HOSTILE_CAPTIONS[3], 'empty'], type: 'STRING' },
        { name: 'status', data: ['success', 'failed_to_download', 'success', 'success'], type: 'STRING' },
        { name: 'jpg', data: images.map((b) => new Uint8Array(b)), type: 'BYTE_ARRAY' },
      ], 2));
      assert.equal(await detectLayout(root), 'img2dataset-parquet');
      const reader = await openDataset(root);
      const samples = await collect(reader);
      assert.deepEqual(samples.map((s) => s.id), ['00000.parquet#000000000', '00000.parquet#000000002', '00000.parquet#000000003']);
      assert.deepEqual(samples.map((s) => s.caption), [HOSTILE_CAPTIONS[0], HOSTILE_CAPTIONS[3], 'empty']);
      assert.deepEqual(await samples[1].readImage(), blue);
      assert.deepEqual(await samples[0].readImage(), green);
      await assert.rejects(samples[2].readImage(), /empty file/);
      assert.deepEqual(await (await reader.sampleById('00000.parquet#000000002'))?.readImage(), blue);
    });
  });

  describe('COCO captions', () => {
    const annotations = {
      images: [{ id: 7, file_name: '000000000007.jpg' }, { id: 3, file_name: '000000000003.jpg' }, { id: 9, file_name: '../../etc/passwd' }],
      annotations: [
        { id: 101, image_id: 7, caption: 'first of seven' },
        { id: 55, image_id: 3, caption: HOSTILE_CAPTIONS[0] },
        { id: 102, image_id: 7, caption: 'second of seven' },
        { id: 103, image_id: 9, caption: 'escape' },
      ],
    };
    it('gives one sample per caption with distinct stable ids, or the first caption per image', async () => {
      const root = fresh('coco');
      writeFile(root, 'val2017/000000000007.jpg', green);
      writeFile(root, 'val2017/000000000003.jpg', red);
      writeFile(root, 'annotations/captions_val2017.json', JSON.stringify(annotations));
      writeFile(root, 'annotations/instances_val2017.json', '{}');
      assert.equal(await detectLayout(root), 'coco');
      const all = await collect(await openDataset(root));
      assert.deepEqual(all.map((s) => [s.id, s.caption]), [
        ['val2017/000000000007.jpg#101', 'first of seven'],
        ['val2017/000000000007.jpg#102', 'second of seven'],
        ['val2017/000000000003.jpg#55', HOSTILE_CAPTIONS[0]],
        ['val2017/../../etc/passwd#103', 'escape'],
      ]);
      assert.match(all[3].error ?? '', /escapes/);
      assert.deepEqual(await all[1].readImage(), green);
      const reader = await openDataset(root);
      assert.equal((await reader.sampleById('val2017/000000000007.jpg#102'))?.caption, 'second of seven');
      assert.equal(await reader.sampleById('val2017/000000000007.jpg'), null);
      const first = await collect(await openDataset(root, { cocoCaptions: 'first' }));
      assert.deepEqual(first.map((s) => [s.id, s.caption]).slice(0, 2), [['val2017/000000000007.jpg', 'first of seven'], ['val2017/000000000003.jpg', HOSTILE_CAPTIONS[0]]]);
      assert.deepEqual(first[0].ownedFiles, ['val2017/000000000007.jpg']);
      assert.deepEqual(all[0].ownedFiles, []);
    });
  });

  describe('detection', () => {
    it('lists every layout and what it looked for when nothing matches', async () => {
      const root = fresh('nothing');
      writeFile(root, 'readme.md', 'hello');
      await assert.rejects(detectLayout(root), (error: Error) => {
        for (const layout of ['sidecar', 'imagefolder', 'manifest', 'img2dataset-files', 'webdataset', 'img2dataset-parquet', 'coco', 'clip-retrieval']) {
          assert.ok(error.message.includes(`- ${layout}:`), `message names ${layout}`);
        }
        assert.match(error.message, /captions_\*\.json/);
        return true;
      });
      await assert.rejects(detectLayout(join(root, 'missing')), /not found/);
    });
  });
});
