#!/usr/bin/env node
/**
 * Writes the test fixture of a converted released BigBiGAN (test/pretrained_fixture.ts: real tfjs graph models
 * with the released signatures' names at toy sizes) and a two-class image folder, to try the command by hand:
 *
 *   npm run build
 *   node scripts/pretrained-fixture.js /tmp/fx
 *   npx bigbigan eval --pretrained /tmp/fx/model --data imagefolder --set dataPath=/tmp/fx/images
 */
'use strict';
const path = require('path');

function main() {
  const out = process.argv[2];
  if (out === undefined) {
    console.error('Usage: node scripts/pretrained-fixture.js OUT   (writes OUT/model and OUT/images; run npm run build first)');
    process.exit(2);
  }
  const { writePretrainedFixture, writeColourFolder } = require(path.join(__dirname, '..', 'dist', 'test', 'pretrained_fixture.js'));
  writePretrainedFixture(path.join(out, 'model'));
  writeColourFolder(path.join(out, 'images'), 12);
  console.log(`wrote ${path.join(out, 'model')} (encode, generate, discriminate) and ${path.join(out, 'images')} (train/val, 2 classes)`);
}

main();
