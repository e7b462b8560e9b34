import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeHome, removeHome, run } from './helpers/home.js';

test('the CLI answers --help', async () => {
  const home = makeHome();
  try {
    const result = await run(home, ['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /create-task/);
  } finally {
    removeHome(home);
  }
});
