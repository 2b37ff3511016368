#!/usr/bin/env node
/**
 * Builds the optional native kernels (native/*.cc: conv2d on oneDNN, element-wise ops) into
 * build/native/dnnl_kernels.node, where g++ and oneDNN (Debian/Ubuntu:
 * `apt-get install g++ libdnnl-dev`) are installed. Part of `npm run build`;
 * it never fails the build: where it cannot compile, it says why in one line
 * and the kit keeps its wasm kernels. Skips the compile when the addon is
 * newer than its source. BIGBIGAN_NATIVE=0 skips it altogether.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const sources = ['dnnl_kernels.cc', 'elementwise.cc'].map((f) => path.join(root, 'native', f));
const target = path.join(root, 'build', 'native', 'dnnl_kernels.node');

function skip(why) {
  console.log(`[bigbigan] native kernels not built: ${why}; the kit uses its wasm kernels`);
  process.exit(0);
}

if (process.env.BIGBIGAN_NATIVE === '0') skip('BIGBIGAN_NATIVE=0');
if (process.platform !== 'linux') skip(`only the Linux build is set up (this is ${process.platform})`);
if (fs.existsSync(target) && sources.every((f) => fs.statSync(target).mtimeMs > fs.statSync(f).mtimeMs)) process.exit(0);

// node_api.h comes with Node itself (<prefix>/include/node); N-API is stable across Node versions.
const headers = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node']
  .find((d) => fs.existsSync(path.join(d, 'node_api.h')));
if (headers == null) skip(`node_api.h not found next to ${process.execPath}`);
if (spawnSync('g++', ['--version']).error) skip('g++ is not installed');

fs.mkdirSync(path.dirname(target), { recursive: true });
const tmp = `${target}.tmp-${process.pid}`;
const args = ['-O3', '-std=c++17', '-shared', '-fPIC', '-fopenmp', '-DNAPI_VERSION=8', '-DNODE_GYP_MODULE_NAME=dnnl_kernels',
              '-I', headers, ...sources, '-ldnnl', '-o', tmp];
const r = spawnSync('g++', args, { encoding: 'utf8' });
if (r.status !== 0) {
  fs.rmSync(tmp, { force: true });
  const out = `${r.stderr}${r.stdout}`;
  if (/dnnl\.hpp: No such file/.test(out) || /cannot find -ldnnl/.test(out)) skip('oneDNN is not installed (apt-get install libdnnl-dev)');
  skip(`g++ failed: ${out.trim().split('\n').find((l) => /error/.test(l)) ?? out.trim().split('\n')[0]}`);
}
fs.renameSync(tmp, target);
console.log(`[bigbigan] native kernels built: ${path.relative(root, target)}`);
