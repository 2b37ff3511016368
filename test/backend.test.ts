/**
 * Backend selection (src/backend.ts): on a machine without the native
 * packages the automatic choice is wasm and says why; a forced backend runs or
 * fails with one clear message.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { parseBackendChoice, selectBackend } from '../src/backend';

/** Whether a real native tfjs backend can load here (not the danfo alias). */
function nativeInstalled(): boolean {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', 'tfjs-node-native', '@tensorflow/tfjs-node']) {
    try { require(pkg); } catch { continue; }
    if (tf.findBackend('tensorflow') != null) return true;
  }
  return false;
}

describe('selectBackend', () => {
  const native = nativeInstalled();

  test('picks the fastest available backend and prints one line saying why', async () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => { lines.push(args.join(' ')); };
    try {
      delete process.env.BIGBIGAN_BACKEND;
      const info = await selectBackend();
      assert.equal(lines.length, 1);
      assert.equal(lines[0], info.line);
      assert.equal(tf.getBackend(), info.tfBackend);
      if (native) {
        assert.equal(info.tfBackend, 'tensorflow');
      } else {
        assert.equal(info.choice, 'wasm');
        assert.match(info.line, /backend: wasm \(SIMD, 1 thread\)/);
        assert.match(info.reason, /@tensorflow\/tfjs-node-gpu is not installed/);
        // the danfojs-node alias sits at @tensorflow/tfjs-node: it must not count as native
        assert.match(info.reason, /tfjs-node-native is not installed; @tensorflow\/tfjs-node resolves to a pure-JS stand-in/);
      }
    } finally {
      console.log = log;
    }
  });

  test('BIGBIGAN_BACKEND forces a backend', async () => {
    process.env.BIGBIGAN_BACKEND = 'cpu';
    try {
      const info = await selectBackend({ quiet: true });
      assert.equal(info.choice, 'cpu');
      assert.equal(tf.getBackend(), 'cpu');
      assert.equal(info.reason, 'BIGBIGAN_BACKEND=cpu');
    } finally {
      delete process.env.BIGBIGAN_BACKEND;
    }
    const info = await selectBackend({ force: 'wasm', quiet: true });
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(info.reason, 'requested');
  });

  test('a forced backend that cannot start is one clear error', async (t) => {
    if (native) return t.skip('a native tfjs backend is installed on this machine');
    process.env.BIGBIGAN_BACKEND = 'node';
    try {
      await assert.rejects(selectBackend({ quiet: true }),
        /Backend 'node' was requested by BIGBIGAN_BACKEND, but tfjs-node-native is not installed; @tensorflow\/tfjs-node resolves to a pure-JS stand-in/);
    } finally {
      delete process.env.BIGBIGAN_BACKEND;
    }
  });

  test('an unknown backend name is rejected with the choices', () => {
    assert.throws(() => parseBackendChoice('tpu', 'BIGBIGAN_BACKEND'),
      /Expected BIGBIGAN_BACKEND to be one of node-gpu, node, wasm, cpu, but got 'tpu'/);
    assert.equal(parseBackendChoice(' WASM ', 'x'), 'wasm');
  });
});
