/**
 * Backend selection (src/backend/select.ts): on a machine without the native
 * packages and without a GPU the automatic choice is wasm and says why (webgpu
 * included); a forced backend runs or fails with one clear message.
 * test/webgpu_backend.test.ts covers the webgpu wiring with a fake GPU.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { noAdapterHint, parseBackendChoice, selectBackend, vulkanLoaderFound } from '../src/backend/select';

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
  /** The automatic choice, once the first test made it. */
  let automatic = '';

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
      automatic = info.choice;
      if (native) {
        assert.equal(info.tfBackend, 'tensorflow');
      } else if (info.choice === 'webgpu') {
        assert.equal(info.tfBackend, 'webgpu');  // a machine with a GPU that Dawn can use
        assert.match(info.line, /backend: webgpu \(Dawn: .+\) — /);
      } else {
        assert.equal(info.choice, 'wasm');
        assert.match(info.line, /backend: wasm \(SIMD, 1 thread[;)]/);
        assert.match(info.reason, /@tensorflow\/tfjs-node-gpu is not installed/);
        // the danfojs-node alias sits at @tensorflow/tfjs-node: it must not count as native
        assert.match(info.reason, /tfjs-node-native is not installed; @tensorflow\/tfjs-node resolves to a pure-JS stand-in/);
        // webgpu is tried after the native packages and before wasm; without a GPU its part is one clause
        assert.match(info.reason, new RegExp(/pure-JS stand-in \(the danfojs-node alias\), not the native package; webgpu: /.source +
                                             /(no GPU adapter \(.+\)|the webgpu package \(Dawn\) is not installed .*)$/.source));
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
        new RegExp(/Backend 'node' was requested by BIGBIGAN_BACKEND, but tfjs-node-native is not installed; /.source +
                   /@tensorflow\/tfjs-node resolves to a pure-JS stand-in/.source));
    } finally {
      delete process.env.BIGBIGAN_BACKEND;
    }
  });

  test('a forced webgpu without a usable GPU is one clear error, and the backend in use stays', async (t) => {
    if (automatic === 'webgpu') return t.skip('Dawn finds a GPU adapter on this machine');
    await selectBackend({ force: 'wasm', quiet: true });
    process.env.BIGBIGAN_BACKEND = 'webgpu';
    try {
      await assert.rejects(selectBackend({ quiet: true }),
        new RegExp(/^Error: Backend 'webgpu' was requested by BIGBIGAN_BACKEND, but the webgpu backend cannot run: /.source +
                   /(no GPU adapter \(.+\)|the webgpu package \(Dawn\) is not installed .*)\. /.source +
                   /See the README section "Backends"\.$/.source));
    } finally {
      delete process.env.BIGBIGAN_BACKEND;
    }
    assert.equal(tf.getBackend(), 'wasm');
    await assert.rejects(selectBackend({ force: 'webgpu', quiet: true }),
                         /^Error: Backend 'webgpu' was requested, but the webgpu backend cannot run: /);
  });

  test('an unknown backend name is rejected with the choices', () => {
    assert.throws(() => parseBackendChoice('tpu', 'BIGBIGAN_BACKEND'),
      /Expected BIGBIGAN_BACKEND to be one of node-gpu, node, webgpu, wasm, cpu, but got 'tpu'/);
    assert.equal(parseBackendChoice(' WASM ', 'x'), 'wasm');
    assert.equal(parseBackendChoice('WebGPU', 'x'), 'webgpu');
  });

  test('the no-adapter reason says what is missing on each platform', () => {
    assert.match(noAdapterHint('linux', () => false), /^libvulkan\.so\.1 not found: install the Vulkan loader \(libvulkan1\)/);
    assert.match(noAdapterHint('linux', () => true),
                 /^Dawn found no GPU with a usable Vulkan driver; CPU drivers such as Mesa lavapipe are rejected$/);
    assert.equal(noAdapterHint('darwin', () => false), 'Dawn found no Metal GPU');
    assert.equal(noAdapterHint('win32', () => false), 'Dawn found no D3D12 or Vulkan GPU');
  });

  test('the Vulkan loader is looked for in LD_LIBRARY_PATH, the default folders and the loader cache', () => {
    const none = () => false, noCache = () => '';
    assert.equal(vulkanLoaderFound({}, none, noCache), false);
    assert.equal(vulkanLoaderFound({ LD_LIBRARY_PATH: '/opt/a:/opt/vk' }, (p) => p === '/opt/vk/libvulkan.so.1', noCache), true);
    assert.equal(vulkanLoaderFound({}, (p) => p === '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', noCache), true);
    assert.equal(vulkanLoaderFound({}, none, () => '\0libvulkan.so.1\0/usr/local/nvidia/lib64/libvulkan.so.1\0'), true);
    assert.equal(vulkanLoaderFound({}, none, () => { throw new Error('no cache'); }), false);
  });
});
