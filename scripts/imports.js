#!/usr/bin/env node
/**
 * The import picture of src/: every relative import (static, `export … from`, `await import(…)`,
 * `require(…)`) between the kit's modules, summarised per folder, with the import circles and the
 * imports that run against the layering. Exits 1 if there is any of either.
 *
 *   node scripts/imports.js            summary, circles, violations
 *   node scripts/imports.js --edges    also every folder-to-folder edge with its count
 *
 * Layers, lowest first; a module may import its own layer and the layers below it:
 *   util < backend < core (config, presets, config_check, model/, data/) < train < eval < pretrained < run
 *   < sweep < index (the kit's public entry) < notebook < cli
 * and besides: the CLI does not import the notebook helpers (the training path never loads them).
 */
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const src = path.join(root, 'src');

/** The layer of a module (path relative to src/, without .ts). */
const LAYERS = [
  ['util', (m) => m.startsWith('util/')],
  ['backend', (m) => m.startsWith('backend/')],
  ['core', (m) => ['config', 'presets', 'config_check'].includes(m) || m.startsWith('model/') || m.startsWith('data/')],
  ['train', (m) => m.startsWith('train/')],
  ['eval', (m) => m.startsWith('eval/')],
  ['pretrained', (m) => m.startsWith('pretrained/')],
  ['run', (m) => m.startsWith('run/')],
  ['sweep', (m) => m.startsWith('sweep/')],
  ['index', (m) => m === 'index'],
  ['notebook', (m) => m.startsWith('notebook/')],
  ['cli', (m) => m === 'cli' || m.startsWith('cli/')],
];
const layerOf = (m) => {
  const i = LAYERS.findIndex(([, test]) => test(m));
  return i < 0 ? { rank: -1, name: 'unplaced' } : { rank: i, name: LAYERS[i][0] };
};
/** Imports forbidden although the layers would allow them: [from layer, to layer]. */
const FORBIDDEN = [['cli', 'notebook']];
const folderOf = (m) => (m.includes('/') ? m.slice(0, m.indexOf('/')) : m);

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : []);
  });
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]*)['"]/gm;

/** module -> [{ to, line, dynamic }] for src/. */
function importGraph() {
  const graph = new Map();
  for (const file of walk(src)) {
    const mod = path.relative(src, file).replace(/\.ts$/, '').split(path.sep).join('/');
    const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '));
    const edges = [];
    for (const m of text.matchAll(IMPORT)) {
      const lineStart = text.lastIndexOf('\n', m.index) + 1;
      if (/^\s*\/\//.test(text.slice(lineStart, m.index))) continue;  // in a // comment
      let target = path.join(path.dirname(file), m[1]);
      if (fs.existsSync(`${target}.ts`)) target = `${target}.ts`;
      else if (fs.existsSync(path.join(target, 'index.ts'))) target = path.join(target, 'index.ts');
      else continue;  // not a module of src/ (e.g. a .json file)
      const to = path.relative(src, target).replace(/\.ts$/, '').split(path.sep).join('/');
      const line = text.slice(0, m.index).split('\n').length;
      edges.push({ to, line, dynamic: /import\s*\(|require\s*\(/.test(m[0]) });
    }
    graph.set(mod, edges);
  }
  return graph;
}

/** Strongly connected components of more than one module (or a module importing itself): the circles. */
function circles(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], on = new Set(), out = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++; stack.push(v); on.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!graph.has(to)) continue;
      if (!idx.has(to)) { visit(to); low.set(v, Math.min(low.get(v), low.get(to))); }
      else if (on.has(to)) low.set(v, Math.min(low.get(v), idx.get(to)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).some((e) => e.to === v)) out.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

function main() {
  const graph = importGraph();
  const modules = [...graph.keys()].sort();
  const edges = modules.flatMap((from) => graph.get(from).map((e) => ({ from, ...e })));
  const violations = edges.filter((e) => layerOf(e.to).rank > layerOf(e.from).rank || layerOf(e.from).rank < 0
    || FORBIDDEN.some(([a, b]) => layerOf(e.from).name === a && layerOf(e.to).name === b));
  const dynamic = edges.filter((e) => e.dynamic);
  const found = circles(graph);

  const byFolder = new Map();
  for (const e of edges) {
    const key = `${folderOf(e.from)} -> ${folderOf(e.to)}`;
    if (folderOf(e.from) !== folderOf(e.to)) byFolder.set(key, (byFolder.get(key) ?? 0) + 1);
  }
  console.log(`${modules.length} modules, ${edges.length} imports (${dynamic.length} dynamic), ${byFolder.size} folder-to-folder edges`);
  console.log(`layers: ${LAYERS.map(([n]) => n).join(' < ')}`);
  if (process.argv.includes('--edges')) for (const [k, n] of [...byFolder].sort()) console.log(`  ${k}: ${n}`);
  for (const m of modules.filter((m) => layerOf(m).rank < 0)) console.log(`unplaced module (add it to a layer): src/${m}.ts`);
  for (const c of found) console.log(`circle: ${c.join(' <-> ')}`);
  for (const e of violations) {
    console.log(`against the layering: src/${e.from}.ts:${e.line} (${layerOf(e.from).name}) imports ${e.to} (${layerOf(e.to).name})`);
  }
  for (const e of dynamic) console.log(`dynamic import: src/${e.from}.ts:${e.line} -> ${e.to}`);
  console.log(`${found.length} circles, ${violations.length} imports against the layering`);
  if (found.length > 0 || violations.length > 0) process.exit(1);
}

if (require.main === module) main();
module.exports = { importGraph, circles, layerOf };
