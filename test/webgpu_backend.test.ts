/**
 * The webgpu wiring of src/backend/select.ts with a fake WebGPU implementation in
 * place of Dawn (no GPU needed): what a missing adapter, an adapter without a
 * device and a working one do (the automatic choice takes a working one);
 * that navigator.gpu and the WebGPU globals are defined before
 * tfjs-backend-webgpu loads; and the clear error of a synchronous read on
 * webgpu in Node.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BackendInfo, Gpu, GpuAdapter, selectBackend, webgpuProvider } from '../src/backend/select';

const GLOBALS = {
  GPUBufferUsage: { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 }, GPUMapMode: { READ: 1, WRITE: 2 },
};

/** A fake GPU whose adapter is `adapter`. */
function fakeGpu(adapter: GpuAdapter | null): Gpu {
  return { requestAdapter: async () => adapter };
}

function fakeAdapter(requestDevice: () => Promise<unknown>): GpuAdapter {
  return {
    info: { vendor: 'fakevendor', architecture: 'fakearch', device: '', description: 'a test double' },
    features: new Set<string>(), limits: { maxBufferSize: 1 << 28, maxStorageBufferBindingSize: 1 << 27 },
    requestDevice,
  };
}

describe('webgpu backend wiring (fake WebGPU)', () => {
  test('no adapter: a forced webgpu is one clear error', async () => {
    webgpuProvider.load = async () => ({ gpu: fakeGpu(null), globals: GLOBALS });
    await assert.rejects(selectBackend({ force: 'webgpu', quiet: true }),
      new RegExp(/^Error: Backend 'webgpu' was requested, but the webgpu backend cannot run: no GPU adapter \(.+\)\. /.source +
                 /See the README section "Backends"\.$/.source));
  });

  test('Dawn missing: the reason says so', async () => {
    webgpuProvider.load = async () => 'the webgpu package (Dawn) is not installed (npm install webgpu@0.6.2)';
    await assert.rejects(selectBackend({ force: 'webgpu', quiet: true }),
                         /but the webgpu backend cannot run: the webgpu package \(Dawn\) is not installed/);
  });

  test('an adapter without a device: navigator.gpu and the globals are defined, and the failure names the adapter', async () => {
    const gpu = fakeGpu(fakeAdapter(async () => { throw new Error('the fake adapter has no device'); }));
    webgpuProvider.load = async () => ({ gpu, globals: GLOBALS });
    const warn = console.warn;
    console.warn = () => {};  // tfjs reports the failed backend initialisation on console.warn
    try {
      await assert.rejects(selectBackend({ force: 'webgpu', quiet: true }),
        /the webgpu backend cannot run: the webgpu backend did not start on fakevendor fakearch, a test double/);
    } finally {
      console.warn = warn;
    }
    assert.equal((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu, gpu);
    assert.deepEqual((globalThis as Record<string, unknown>).GPUBufferUsage, GLOBALS.GPUBufferUsage);
    assert.ok(tf.findBackendFactory('webgpu') != null,
              'Expected tfjs-backend-webgpu to register its factory once navigator.gpu exists, but got none');
    assert.ok(tf.getKernel('Conv2DBackpropFilter', 'webgpu') != null);
  });

  test('an adapter with a device: the automatic choice takes webgpu, the line names the adapter, ' +
       'a synchronous GPU read is a clear error', async (t) => {
    const device = { features: new Set<string>(), limits: {}, queue: {}, lost: new Promise(() => {}) };
    webgpuProvider.load = async () => ({ gpu: fakeGpu(fakeAdapter(async () => device)), globals: GLOBALS });
    // The automatic choice loads Dawn only where the Vulkan loader exists (Linux): a stand-in file passes that check.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-vulkan-'));
    fs.writeFileSync(path.join(dir, 'libvulkan.so.1'), '');
    const saved = process.env.LD_LIBRARY_PATH;
    process.env.LD_LIBRARY_PATH = dir;
    delete process.env.BIGBIGAN_BACKEND;
    let info: BackendInfo;
    try {
      info = await selectBackend({ quiet: true });
    } finally {
      if (saved === undefined) delete process.env.LD_LIBRARY_PATH; else process.env.LD_LIBRARY_PATH = saved;
      fs.rmSync(dir, { recursive: true, force: true });
    }
    if (info.tfBackend === 'tensorflow') {
      t.diagnostic(`a native tfjs backend is installed here and comes first: ${info.line}`);
      info = await selectBackend({ force: 'webgpu', quiet: true });
    } else {
      // only the native backends come before webgpu; it is picked, not passed over
      assert.match(info.line, /^\[bigbigan\] backend: webgpu \(Dawn: fakevendor fakearch, a test double\) — .*tfjs-node-gpu/);
      assert.doesNotMatch(info.reason, /webgpu/);
    }
    assert.equal(info.choice, 'webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    assert.match(info.line, /^\[bigbigan\] backend: webgpu \(Dawn: fakevendor fakearch, a test double\) — /);
    // values uploaded from the CPU and not yet on the GPU read back synchronously as before
    const x = tf.tensor1d([1, 2, 3]);
    assert.deepEqual([...x.dataSync()], [1, 2, 3]);
    // once they live only on the GPU, a synchronous read says what to do instead
    const data = (tf.backend() as unknown as { tensorMap: { get(id: object): { values: unknown } } }).tensorMap.get(x.dataId);
    data.values = null;
    assert.throws(() => x.dataSync(),
      new RegExp(/^Error: Expected an asynchronous read on the webgpu backend \(await tensor\.data\(\) or tensor\.array\(\)\), /.source +
                 /but got a synchronous one/.source));
  });
});
