// Worker and task ids are file names, never paths: each bad id is refused with a message that says why.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertValidId, isValidId } from '../../dist/contract/ids.js';

const refused = [
  { id: '../x', why: /^invalid worker id "\.\.\/x": it contains a path separator$/ },
  { id: 'a/b', why: /^invalid worker id "a\/b": it contains a path separator$/ },
  { id: 'a\\b', why: /it contains a path separator$/ },
  { id: '', why: /^invalid worker id "": it is empty$/ },
  { id: 'a'.repeat(129), why: /^invalid worker id "a{60}…": it is 129 characters long \(at most 128\)$/ },
  { id: 'a\0b', why: /^invalid worker id "a\\u0000b": it contains a NUL byte$/ },
  { id: '..', why: /^invalid worker id "\.\.": it contains "\.\."$/ },
  { id: 'a..b', why: /it contains "\.\."$/ },
  { id: '.hidden', why: /it must match/ },
  { id: '-rf', why: /it must match/ },
  { id: 'a b', why: /it must match/ },
  { id: 42, why: /^invalid worker id 42: expected a string, got number$/ },
];

for (const { id, why } of refused) {
  test(`refuses ${JSON.stringify(id).slice(0, 30)}`, () => {
    assert.equal(isValidId(id), false);
    assert.throws(() => assertValidId(id), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
      assert.equal(error.code, 'INVALID_ID');
      assert.match(error.message, why);
      return true;
    });
  });
}

test('the kind of id is named in the message', () => {
  assert.throws(() => assertValidId('../t', 'task'), { code: 'INVALID_ID', message: /^invalid task id "\.\.\/t"/ });
});

for (const id of ['a'.repeat(128), 'worker-implementation-001', 'task-20251121-100000-abcdef', 'A.b_c-9', '7']) {
  test(`accepts ${id.length > 30 ? `${id.length} characters` : id}`, () => {
    assert.equal(isValidId(id), true);
    assert.equal(assertValidId(id), id);
  });
}

test('an id with a line separator (U+2028, U+2029) is refused in a message of one line', () => {
  for (const bad of ['a\u2028b', '\u2029', 'x\ny']) {
    assert.throws(() => assertValidId(bad), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
      assert.match(error.message, /^[^\n\r\u2028\u2029]*$/, JSON.stringify(error.message));
      return error.code === 'INVALID_ID';
    });
  }
});
