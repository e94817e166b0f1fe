import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { csvField, sampleResultsTable, scoreRowsTable, tableFormatFromPath, writeTable } from '../../../src/backend/output';
import { parseDelimited } from '../../../src/backend/tabular';
import type { SampleResult, ScoreRow } from '../../../src/core/types';
import { removeTempDirs, tempDir } from './fixtures';

const scoreRows: ScoreRow[] = [
  { index: 0, scores: { kdist: 1.5, lid: null, slof: 1, dao: 0.2, iforest: 0.4, clipScore: 0.3 }, safeProbability: 0.95, safe: true, warnings: ['LID undefined: more than 64 exact duplicates'] },
  { index: 1, scores: { kdist: 2.5, lid: 3, slof: 1.1, dao: 0.5, iforest: 0.6, clipScore: -0.1 }, safeProbability: 0.01, safe: false },
];
const hostile = '=cmd|"/c calc"!A1, with\nnewline and "quotes" ☃ ';
const sampleRows: SampleResult[] = [
  { id: 'a.jpg', image: 'a.jpg', caption: hostile, error: null, scores: { kdist: 1, clipScore: 0.2 }, safeProbability: 0.5, safe: false },
  { id: 'b.jpg', image: 'b.jpg', caption: null, error: 'empty file (0 bytes)' },
];

describe('result writers', () => {
  after(removeTempDirs);

  it('knows formats by extension', () => {
    assert.equal(tableFormatFromPath('x.JSONL'), 'jsonl');
    assert.equal(tableFormatFromPath('x.csv'), 'csv');
    assert.equal(tableFormatFromPath('x.parquet'), 'parquet');
    assert.equal(tableFormatFromPath('x.txt'), null);
  });

  it('writes score rows as JSONL with warnings only where present', async () => {
    const path = join(tempDir('out'), 'scores.jsonl');
    await writeTable(path, 'jsonl', scoreRowsTable(scoreRows));
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(Object.keys(lines[0]), ['index', 'scores', 'safeProbability', 'safe', 'warnings']);
    assert.deepEqual(Object.keys(lines[1]), ['index', 'scores', 'safeProbability', 'safe']);
    assert.equal((lines[0].scores as Record<string, unknown>).lid, null);
  });

  it('round-trips hostile captions through CSV', async () => {
    const dir = tempDir('out');
    const path = join(dir, 'rows.csv');
    await writeTable(path, 'csv', sampleResultsTable(sampleRows));
    const table = parseDelimited(readFileSync(path, 'utf8'), ',');
    assert.deepEqual(table.columns, ['id', 'image', 'caption', 'error', 'kdist', 'lid', 'slof', 'dao', 'iforest', 'clipScore', 'safeProbability', 'safe', 'warnings']);
    assert.equal(table.rows[0].values?.caption, hostile);
    assert.equal(table.rows[1].values?.error, 'empty file (0 bytes)');
    assert.equal(table.rows[1].values?.kdist, '');
    assert.deepEqual(readdirSync(dir), ['rows.csv']);
    assert.equal(csvField(' padded'), '" padded"');
    assert.equal(csvField(Number.NaN), '');
  });

  it('writes Parquet with the same columns, nulls kept', async () => {
    const path = join(tempDir('out'), 'scores.parquet');
    await writeTable(path, 'parquet', scoreRowsTable(scoreRows));
    const bytes = readFileSync(path);
    const rows = (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) })) as Record<string, unknown>[];
    assert.equal(rows.length, 2);
    assert.equal(rows[0].lid, null);
    assert.equal(rows[1].lid, 3);
    assert.equal(rows[0].safe, true);
    assert.equal(rows[0].index, 0);
    assert.equal(rows[0].warnings, 'LID undefined: more than 64 exact duplicates');
  });
});
