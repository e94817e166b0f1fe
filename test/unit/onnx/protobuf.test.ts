import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, attr, float32ToFloat16Bits } from '../../../src/backend/onnx/graph';
import { ProtoWriter, encodeVarint } from '../../../src/backend/onnx/protobuf';
import { decodeFields, decodeModel } from './onnxReader';

describe('protobuf writer', () => {
  it('encodes varints like the protobuf spec (150 → 96 01; negatives as 10-byte two\'s complement)', () => {
    assert.deepEqual([...encodeVarint(0)], [0]);
    assert.deepEqual([...encodeVarint(1)], [1]);
    assert.deepEqual([...encodeVarint(150)], [0x96, 0x01]);
    assert.deepEqual([...encodeVarint(-1)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.deepEqual([...encodeVarint(2n ** 40n)], [0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    assert.throws(() => encodeVarint(2 ** 60), /safe integer/);
  });

  it('encodes the spec\'s example message {a: 150} and nested, packed and lazy fields', () => {
    assert.deepEqual([...new ProtoWriter().int(1, 150).toUint8Array()], [0x08, 0x96, 0x01]);
    const nested = new ProtoWriter().string(2, 'testing');
    const lazy = { byteLength: 3, produce: () => Uint8Array.from([7, 8, 9]) };
    const message = new ProtoWriter().message(3, nested).packedInts(4, [3, 270, 86942]).bytes(5, lazy).float(6, 1.5);
    const bytes = message.toUint8Array();
    assert.equal(bytes.length, message.byteLength);
    // {3: {2: "testing"}} is the spec's example: 1a 09 12 07 74 65 73 74 69 6e 67; packed [3, 270, 86942] is 22 06 03 8e 02 9e a7 05.
    assert.deepEqual([...bytes.subarray(0, 11)], [0x1a, 0x09, 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    assert.deepEqual([...bytes.subarray(11, 19)], [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
    const fields = decodeFields(bytes);
    assert.deepEqual(
      fields.map((f) => f.number),
      [3, 4, 5, 6],
    );
    assert.deepEqual([...(fields[2].value as Uint8Array)], [7, 8, 9]);
    assert.equal(new DataView(new Uint32Array([Number(fields[3].value)]).buffer).getFloat32(0, true), 1.5);
  });

  it('refuses a lazy part that produces a different length than announced', () => {
    const liar = new ProtoWriter().bytes(1, { byteLength: 4, produce: () => new Uint8Array(2) });
    assert.throws(() => liar.toUint8Array(), /produced 2 bytes, announced 4/);
  });

  it('writes files atomically and leaves no temp file behind, also when production fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'protobuf-test-'));
    try {
      const writer = new ProtoWriter().int(1, 150).bytes(2, { byteLength: 3 << 20, produce: () => new Uint8Array(3 << 20).fill(5) });
      await writer.writeToFile(join(dir, 'ok.bin'));
      const written = await readFile(join(dir, 'ok.bin'));
      assert.ok(written.equals(Buffer.from(writer.toUint8Array())));
      const failing = new ProtoWriter().bytes(1, { byteLength: 4, produce: () => { throw new Error('generator broke'); } });
      await assert.rejects(failing.writeToFile(join(dir, 'bad.bin')), /generator broke/);
      assert.deepEqual(await readdir(dir), ['ok.bin']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ONNX graph builder', () => {
  it('converts float32 to IEEE half bits (rounding, subnormals, overflow, NaN)', () => {
    assert.equal(float32ToFloat16Bits(1), 0x3c00);
    assert.equal(float32ToFloat16Bits(-2), 0xc000);
    assert.equal(float32ToFloat16Bits(65504), 0x7bff);
    assert.equal(float32ToFloat16Bits(65520), 0x7c00); // rounds up to +Inf
    assert.equal(float32ToFloat16Bits(2 ** -24), 0x0001); // smallest subnormal
    assert.equal(float32ToFloat16Bits(2 ** -26), 0x0000);
    assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00); // tie → even
    assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
    assert.equal(float32ToFloat16Bits(0.1), 0x2e66);
    assert.equal(float32ToFloat16Bits(Number.NaN) & 0x7e00, 0x7e00);
    assert.equal(float32ToFloat16Bits(-0), 0x8000);
  });

  it('rejects duplicate value names and payloads that do not fit their dims', () => {
    const graph = new GraphBuilder('g');
    graph.input('x', 'float32', [2]);
    assert.throws(() => graph.input('x', 'float32', [2]), /already used/);
    assert.throws(() => graph.initializer('w', 'float32', [2, 3], new Float32Array(5)), /needs 24 bytes, got 20/);
  });

  it('builds a model onnxruntime runs: float16 and int64 initializers, attributes, symbolic dims', async () => {
    const graph = new GraphBuilder('mixed');
    const x = graph.input('x', 'float32', ['n', 4]);
    const halfWeights = Uint16Array.from([1, 2, 3, 4].map(float32ToFloat16Bits));
    const weight = graph.op('Cast', [graph.initializer('w16', 'float16', [4], halfWeights)], { to: attr.int(1) });
    const scaled = graph.op('Mul', [x, weight]);
    const shape = graph.int64s('shape', [-1, 2, 2]);
    const reshaped = graph.op('Reshape', [scaled, shape]);
    const summed = graph.op('ReduceSum', [reshaped, graph.int64s('axes', [-1])], { keepdims: attr.int(0) });
    const clipped = graph.op('Clip', [summed, graph.float32s('low', [-100], []), graph.float32s('high', [10.5], [])]);
    graph.op('LeakyRelu', [clipped], { alpha: attr.float(0.5) }, 'y');
    graph.output('y', 'float32', ['n', 2]);
    const bytes = graph.toModel({ metadata: { purpose: 'test' } }).toUint8Array();

    const decoded = decodeModel(bytes);
    assert.equal(decoded.initializers.get('w16')?.dataType, 10);
    assert.deepEqual(decoded.initializers.get('shape')?.dims, [3]);
    assert.equal(decoded.metadata.get('purpose'), 'test');
    assert.deepEqual(
      decoded.nodes.map((n) => n.opType),
      ['Cast', 'Mul', 'Reshape', 'ReduceSum', 'Clip', 'LeakyRelu'],
    );

    const session = await ort.InferenceSession.create(bytes);
    try {
      const input = new ort.Tensor('float32', Float32Array.from([1, 1, 1, 1, -1, -2, 5, 5]), [2, 4]);
      const y = (await session.run({ x: input })).y;
      assert.deepEqual(y.dims, [2, 2]);
      // Row 0: [1,2,3,4] → sums [3, 7]. Row 1: [-1,-4,15,20] → [-5, 35] → clip → [-5, 10.5] → leaky → [-2.5, 10.5].
      assert.deepEqual([...(y.data as Float32Array)], [3, 7, -2.5, 10.5]);
    } finally {
      await session.release();
    }
  });
});
