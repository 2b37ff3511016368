/** The skips of tests that need an optional system package (test/optional.ts): one line, or a failure where required. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnless } from './optional';

test('a missing optional package is one line saying what to install', () => {
  for (const [name, install] of [['fashion-mnist', /apt-get install dataset-fashion-mnist/],
                                 ['redis-server', /apt-get install redis-server/],
                                 ['onednn', /apt-get install g\+\+ libdnnl-dev/],
                                 ['jupyter', /apt-get install jupyter-notebook jupyter-nbconvert python3-ipykernel/]] as const) {
    const reason = skipUnless(name, { BIGBIGAN_HIDE_OPTIONAL: name });
    assert.ok(typeof reason === 'string' && !reason.includes('\n'), `${name}: ${String(reason)}`);
    assert.match(reason, install);
  }
});

test('BIGBIGAN_REQUIRE_OPTIONAL=1 turns the skip into a failure', () => {
  assert.throws(() => skipUnless('redis-server', { BIGBIGAN_HIDE_OPTIONAL: 'redis-server', BIGBIGAN_REQUIRE_OPTIONAL: '1' }),
                /Expected redis-server \(BIGBIGAN_REQUIRE_OPTIONAL=1\), but redis-server is missing: apt-get install redis-server/);
});
