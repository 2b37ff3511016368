// Usage: npm run build, then node scripts/queue-walltime.js (needs redis-server on PATH; uses port 26379).
// Wall time of a small queued sweep with one worker against two (this machine, loopback redis-server).
const { spawn } = require('child_process');
const fs = require('fs'); const os = require('os'); const path = require('path');
const { ablationSweep } = require('../dist/src/sweep/plan');
const { enqueueSweep, sweepStatus, connectRedis } = require('../dist/src/sweep/queue');
const TINY = ['zDim=6', 'gCh=4', 'gMults=2,2,1', 'gAttention=8', 'resolution=16', 'eResolution=16', 'eCh=4', 'eMlp=16',
              'dCh=8', 'dMults=1,2', 'dAttention=8', 'dMlp=16', 'batchSize=8', 'emaStart=1'];
const EVAL = { samples: 200, realImages: 200, probeTrain: 500, probeEval: 200, reconstructions: 100, rawG: false, baselines: false };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const port = 26379, url = `redis://127.0.0.1:${port}`;
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
                      { stdio: 'ignore' });
  for (;;) { try { (await connectRedis(url)).disconnect(); break; } catch { await sleep(200); } }
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'qw-cache-'));
  { // the feature net, trained once before timing (both cases load it)
    const { selectBackend } = require('../dist/src/backend/select'); const { loadDataset } = require('../dist/src/data');
    const { datasetFeatureNet } = require('../dist/src/eval/feature_net');
    await selectBackend({ quiet: true });
    const mnist = await loadDataset('mnist', { seed: 0 });
    (await datasetFeatureNet(mnist, { resolution: 16, cacheDir: cache, steps: 100, quiet: true })).dispose();
  }
  const def = ablationSweep({
    preset: 'mnist', rows: ['base', 'no-e', 'deterministic-e', 'small-e'], seeds: 2, steps: 40, settings: TINY, evaluation: EVAL,
  });
  for (const n of [1, 2]) {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), `qw-${n}-`));
    const workers = Array.from({ length: n }, () => spawn(process.execPath, ['dist/src/cli.js', 'worker', '--queue', url], {
      stdio: 'ignore', env: { ...process.env, BIGBIGAN_CACHE: cache },
    }));
    await sleep(3000);
    const t0 = Date.now();
    await enqueueSweep(def, { queue: url, out, featureNetSteps: 100 });
    for (;;) { const s = await sweepStatus(def, { queue: url, out }); if (s.every((r) => r.state === 'done')) break; await sleep(500); }
    console.log(JSON.stringify({ workers: n, runs: 8, seconds: (Date.now() - t0) / 1000 }));
    for (const w of workers) w.kill('SIGTERM');
    await sleep(1000);
  }
  redis.kill();
})();
