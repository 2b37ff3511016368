/** The commands about speed and the machine: `bench`, `bench-kernels`, `backend`. */
import { benchKernels } from '../backend/bench_kernels';
import { startWasmThreads } from '../backend/kernels/wasm_threads';
import { selectBackend } from '../backend/select';
import { benchCommand as benchTraining } from '../train/bench';
import { BACKEND_OPTION, Command, CONFIG_OPTIONS, configOption, intOption, stringOption } from './command';

export const benchCommand: Command = {
  name: 'bench',
  summary: 'time D and E/G steps of a configuration on a fixed batch',
  about: `Time N D steps and N E/G steps (default preset bench32, N 10) on a fixed batch; --compare-torch runs
shared/bench/torch_reference.py in the same invocation; --profile prints the top kernels.`,
  options: {
    ...CONFIG_OPTIONS,
    iters: { value: 'N', help: 'timed steps of each kind (default 10)' },
    json: { help: 'print the report as JSON' },
    'compare-torch': { help: 'also run the PyTorch reference' },
    profile: { help: 'print the top kernels' },
    threads: { value: 'N', help: 'start the wasm backend with N threads (default 1)' },
    ...BACKEND_OPTION,
  },
  async run({ values }) {
    const { preset, ablation, cfg } = configOption(values, [], 'bench32');
    const threads = intOption(values, 'threads', 1);
    if (threads > 1) await startWasmThreads(threads);
    const info = await selectBackend({ force: stringOption(values, 'backend'), quiet: true });
    if (values.json !== true) console.log(info.line);
    const lines = await benchTraining({
      cfg, label: `${preset}/${ablation}`, iters: intOption(values, 'iters', 10),
      compareTorch: values['compare-torch'] === true, profile: values.profile === true, json: values.json === true,
    });
    for (const line of lines) console.log(line);
  },
};

export const benchKernelsCommand: Command = {
  name: 'bench-kernels',
  summary: "time the kit's wasm kernels against tfjs-wasm's own",
  about: "Time the kit's wasm kernels (conv2d gradients, matMul, reductions, resize, pooling) against tfjs-wasm's own.",
  options: { iters: { value: 'N', help: 'repetitions of each (default 5)' } },
  async run({ values }) {
    for (const row of await benchKernels(intOption(values, 'iters', 5))) console.log(JSON.stringify(row));
  },
};

export const backendCommand: Command = {
  name: 'backend',
  summary: 'print which tfjs backend runs here, and why',
  about: 'Print which tfjs backend runs here and why.',
  options: { ...BACKEND_OPTION },
  async run({ values }) {
    await selectBackend({ force: stringOption(values, 'backend') });
  },
};
