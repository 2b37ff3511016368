#!/usr/bin/env node
/**
 * The kit's command line: `npx bigbigan <command> [options]`.
 *   demo      train the small convnet on the embedded MNIST (smoke test of an install)
 *   backend   print which tfjs backend runs here, and why
 */
import { parseArgs } from 'util';
import { selectBackend } from './backend';
import { runDemo } from './demo';

const USAGE = `Usage: bigbigan <command> [options]

Commands:
  demo [--steps N] [--batch N] [--out DIR] [--seed N] [--backend NAME]
            train a small convnet on the embedded MNIST, write a picture and metrics
  backend [--backend NAME]
            print which tfjs backend runs here and why

Backends: node-gpu, node, wasm, cpu (default: the fastest that works; or set BIGBIGAN_BACKEND).`;

/** A whole number option, or one clear error. */
function intOption(values: Record<string, unknown>, name: string, fallback: number, min = 1): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`Expected --${name} to be a whole number ≥ ${min}, but got '${raw}'`);
  return v;
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return;
  }
  const options = {
    steps: { type: 'string' }, batch: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' },
    backend: { type: 'string' },
  } as const;
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: rest, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const force = values.backend as string | undefined;
  switch (command) {
    case 'backend': {
      await selectBackend({ force });
      return;
    }
    case 'demo': {
      const steps = intOption(values, 'steps', 300), batchSize = intOption(values, 'batch', 64);
      const seed = intOption(values, 'seed', 0, 0);
      const out = (values.out as string | undefined) ?? 'runs/demo';
      if (force) await selectBackend({ force });
      const r = await runDemo({ steps, batchSize, out, seed });
      console.log(`loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}; test accuracy ${(100 * r.testAccuracy).toFixed(1)}% on 2000 MNIST test digits`);
      console.log(`wrote ${r.files.join(', ')}`);
      return;
    }
    default:
      throw new UsageError(`Expected a command (demo, backend, help), but got '${command}'`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: Error) => {
    console.error(`bigbigan: ${e.message}`);
    if (e instanceof UsageError) console.error(`Run 'bigbigan help' for usage.`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
