import { strict as assert } from 'node:assert';
import { assertNever } from '../../../src/protocol/assertNever';

describe('assertNever', () => {
  it('throws with the unexpected value named', () => {
    assert.throws(() => assertNever('surprise' as never, 'message type'), /Unexpected message type: "surprise"/);
  });
});
