import assert from 'node:assert/strict';
import { parseDelimited, parseJsonl, readTable, cellText, guessColumn } from '../../../src/backend/tabular';
import { HOSTILE_CAPTIONS, makeTempDir, parquetBytes, writeFile } from './helpers';

function csvQuote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

describe('tabular', () => {
  it('parses quoted fields with commas, quotes and embedded newlines, CRLF records and a BOM', () => {
    const text = '\uFEFFfile_name,caption\r\na.jpg,"hello, ""world""\r\nsecond line"\r\nb.jpg,plain\r\n\r\n';
    const table = parseDelimited(text, ',');
    assert.deepEqual(table.columns, ['file_name', 'caption']);
    assert.equal(table.rows.length, 2);
    assert.deepEqual(table.rows[0].values, { file_name: 'a.jpg', caption: 'hello, "world"\r\nsecond line' });
    assert.deepEqual(table.rows[1].values, { file_name: 'b.jpg', caption: 'plain' });
  });

  it('round-trips hostile captions byte for byte through CSV, TSV and JSONL', () => {
    const csv = ['image,caption', ...HOSTILE_CAPTIONS.map((caption, i) => `${i}.jpg,${csvQuote(caption)}`)].join('\n');
    const tsvQuote = (value: string) => (/["\t\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
    const tsv = ['image\tcaption', ...HOSTILE_CAPTIONS.map((caption, i) => `${i}.jpg\t${tsvQuote(caption)}`)].join('\r\n');
    const jsonl = HOSTILE_CAPTIONS.map((caption, i) => JSON.stringify({ image: `${i}.jpg`, caption })).join('\n');
    for (const table of [parseDelimited(csv, ','), parseDelimited(tsv, '\t'), parseJsonl(jsonl)]) {
      assert.deepEqual(table.rows.map((row) => row.values?.caption), HOSTILE_CAPTIONS);
    }
  });

  it('keeps an empty last field and a record of empty fields', () => {
    const table = parseDelimited('a,b\nx,\n,\n', ',');
    assert.deepEqual(table.rows.map((row) => row.values), [{ a: 'x', b: '' }, { a: '', b: '' }]);
  });

  it('makes a row with the wrong field count an error row and rejects an unterminated quote', () => {
    const table = parseDelimited('a,b\n1,2,3\n4,5\n', ',');
    assert.equal(table.rows[0].values, null);
    assert.match(table.rows[0].error ?? '', /3 fields/);
    assert.deepEqual(table.rows[1].values, { a: '4', b: '5' });
    assert.throws(() => parseDelimited('a,b\n"open,1\n', ','), /unterminated/);
  });

  it('keeps quotes inside unquoted fields, text after a closing quote, and counts lines across quoted newlines', () => {
    const table = parseDelimited('a,b\nsay "hi",x\n"q"tail,y\n"multi\nline",z\n1,2,3\n', ',');
    assert.deepEqual(table.rows[0].values, { a: 'say "hi"', b: 'x' });
    assert.deepEqual(table.rows[1].values, { a: 'qtail', b: 'y' });
    assert.deepEqual(table.rows[2].values, { a: 'multi\nline', b: 'z' });
    assert.match(table.rows[3].error ?? '', /^line 6:/);
  });

  it('makes bad JSONL lines error rows and skips blank lines', () => {
    const table = parseJsonl('{"a":1}\n\nnot json\n[1,2]\r\n{"b":"x"}\r\n');
    assert.equal(table.rows.length, 4);
    assert.deepEqual(table.rows[0].values, { a: 1 });
    assert.match(table.rows[1].error ?? '', /line 3: invalid JSON/);
    assert.match(table.rows[2].error ?? '', /line 4: not a JSON object/);
    assert.deepEqual(table.rows[3].values, { b: 'x' });
    assert.deepEqual(table.columns, ['a', 'b']);
  });

  it('reads parquet strings and binary columns, across row groups', async () => {
    const { dir, cleanup } = makeTempDir('tabular');
    try {
      const captions = HOSTILE_CAPTIONS.slice();
      writeFile(dir, 't.parquet', parquetBytes([
        { name: 'path', data: captions.map((_, i) => `${i}.jpg`), type: 'STRING' },
        { name: 'caption', data: captions, type: 'STRING' },
        { name: 'blob', data: captions.map((_, i) => new Uint8Array([i, 0, 255])), type: 'BYTE_ARRAY' },
      ], 3));
      const table = await readTable(`${dir}/t.parquet`);
      assert.deepEqual(table.rows.map((row) => row.values?.caption), captions);
      assert.deepEqual([...(table.rows[2].values?.blob as Uint8Array)], [2, 0, 255]);
      const onlyPath = await readTable(`${dir}/t.parquet`, { columns: ['path'] });
      assert.deepEqual(Object.keys(onlyPath.rows[0].values ?? {}), ['path']);
    } finally {
      cleanup();
    }
  });

  it('converts cells to text and guesses columns case-insensitively in candidate order', () => {
    assert.equal(cellText(null), null);
    assert.equal(cellText(12n), '12');
    assert.equal(cellText(new TextEncoder().encode('héllo')), 'héllo');
    assert.equal(guessColumn(['Text', 'Caption'], ['caption', 'text']), 'Caption');
    assert.equal(guessColumn(['x'], ['caption']), null);
  });
});
