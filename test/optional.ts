/**
 * System packages that the README marks optional and some tests need: the Fashion-MNIST files (Debian's
 * dataset-fashion-mnist), redis-server, g++ with oneDNN for the native kernels, and Jupyter (the notebooks). Where one is missing,
 * its tests skip with one line saying what to install, so `npm test` passes on a fresh machine;
 * BIGBIGAN_REQUIRE_OPTIONAL=1 (set by .ci/run, which installs them all) turns such a skip into a failure.
 * BIGBIGAN_HIDE_OPTIONAL=name,... treats the named packages as missing (to check the skips).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { NATIVE_ADDON_PATH } from '../src/backend/kernels/native_dnnl';
import { FASHION_MNIST_DIR } from '../src/data/idx';

const OPTIONAL = {
  'fashion-mnist': {
    present: () => fs.existsSync(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz')),
    install: `the Fashion-MNIST files are missing: apt-get install dataset-fashion-mnist (${FASHION_MNIST_DIR})`,
  },
  'redis-server': {
    present: () => spawnSync('sh', ['-c', 'command -v redis-server']).status === 0,
    install: 'redis-server is missing: apt-get install redis-server',
  },
  jupyter: {
    present: () => spawnSync('jupyter', ['nbconvert', '--version'], { stdio: 'ignore' }).status === 0,
    install: 'Jupyter is missing: apt-get install jupyter-notebook jupyter-nbconvert python3-ipykernel',
  },
  onednn: {
    present: () => fs.existsSync(NATIVE_ADDON_PATH),
    install: 'the native kernels are not built: apt-get install g++ libdnnl-dev, then npm run build',
  },
} as const;

export type OptionalPackage = keyof typeof OPTIONAL;

/** Whether the tests must have every optional package (.ci/run). */
export const requireOptional = (env: NodeJS.ProcessEnv = process.env): boolean =>
  env.BIGBIGAN_REQUIRE_OPTIONAL === '1' || env.BIGBIGAN_REQUIRE_NATIVE === '1';

/**
 * false when `name` is installed, else the one-line reason to skip (for `{ skip }` of a test or describe);
 * throws instead where the optional packages are required.
 */
export function skipUnless(name: OptionalPackage, env: NodeJS.ProcessEnv = process.env): string | false {
  const hidden = (env.BIGBIGAN_HIDE_OPTIONAL ?? '').split(',').includes(name);
  if (!hidden && OPTIONAL[name].present()) return false;
  if (requireOptional(env)) throw new Error(`Expected ${name} (BIGBIGAN_REQUIRE_OPTIONAL=1), but ${OPTIONAL[name].install}`);
  return OPTIONAL[name].install;
}
