/**
 * What a command of the `bigbigan` CLI is: its name, one-line summary, usage text, its own options and
 * its body; and the shared parsing (each command accepts only its own options), option checks and help text.
 */
import { parseArgs } from 'util';
import { resolveConfig } from '../presets';
import { Config } from '../config';

/** An error in what the user typed: exit code 2 and a pointer to the command's usage. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) { super(message); }
}

/** One option of a command: `value` names its argument (absent for a flag); `multiple` may repeat. */
export interface OptionSpec {
  value?: string;
  multiple?: boolean;
  help: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface ParsedArgs {
  values: OptionValues;
  positionals: string[];
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** What follows the command name in its usage line, e.g. 'DIR|FILE'; default '[options]'. */
  synopsis?: string;
  /** The longer description under the usage line. */
  about: string;
  options: Record<string, OptionSpec>;
  /** Takes positional arguments (e.g. `results DIR`). */
  positionals?: boolean;
  run(args: ParsedArgs): Promise<void>;
}

/** --backend NAME, shared by the commands that select a backend. */
export const BACKEND_OPTION: Record<string, OptionSpec> = {
  backend: { value: 'NAME', help: 'node-gpu, node, webgpu, wasm or cpu (default: the fastest that works, or BIGBIGAN_BACKEND)' },
};

/** --preset, --ablation, --set: the configuration of a run (presets.ts resolveConfig). */
export const CONFIG_OPTIONS: Record<string, OptionSpec> = {
  preset: { value: 'NAME', help: 'a preset (bigbigan presets lists them; default mnist)' },
  ablation: { value: 'NAME', help: "a row of the paper's Table 1 (default base)" },
  set: { value: 'key=value', multiple: true, help: 'override one config key (repeatable); checked against its type and range' },
};

const flagOf = (name: string, o: OptionSpec) => `--${name}${o.value ? ` ${o.value}` : ''}${o.multiple ? ' ...' : ''}`;

/** The help text of one command. */
export function commandUsage(c: Command): string {
  const flags = Object.entries(c.options).map(([name, o]) => [flagOf(name, o), o.help] as const);
  const width = Math.max(0, ...flags.map(([f]) => f.length)) + 2;
  const lines = [`Usage: bigbigan ${c.name} ${c.synopsis ?? (flags.length > 0 ? '[options]' : '')}`.trimEnd(), '', c.about];
  if (flags.length > 0) lines.push('', 'Options:', ...flags.map(([f, h]) => `  ${f.padEnd(width)}${h}`));
  lines.push(`  ${'--help'.padEnd(width)}this text`);
  return lines.join('\n');
}

/**
 * `--steps -5` as `--steps=-5`: parseArgs takes a value that starts with '-' for an option and refuses it as
 * ambiguous; joined, the value reaches the option's own check ("Expected --steps to be a whole number ≥ 1").
 */
function joinNegativeValues(args: string[], valued: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (valued.has(args[i]) && next !== undefined && /^-[\d.]/.test(next)) out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

/** The first argument that looks like an option `options` lacks (values of valued options and anything after `--` excepted). */
function firstUnknownOption(args: string[], options: Record<string, OptionSpec>, valued: Set<string>): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return undefined;
    if (!a.startsWith('-')) continue;
    if (!(a.replace(/^--?/, '').split('=')[0] in options)) return a;
    if (valued.has(a)) i++;  // its value follows
  }
  return undefined;
}

/** The arguments of `c`; an option `c` does not take is an error naming the options it does take. */
export function parseCommandArgs(c: Command, args: string[]): ParsedArgs {
  const options = Object.fromEntries(Object.entries(c.options).map(([name, o]) =>
    [name, { type: o.value ? 'string' as const : 'boolean' as const, multiple: o.multiple === true }]));
  const valued = new Set(Object.entries(c.options).filter(([, o]) => o.value).map(([name]) => `--${name}`));
  const joined = joinNegativeValues(args, valued);
  const unknown = firstUnknownOption(joined, c.options, valued);
  if (unknown !== undefined) {
    const names = Object.keys(c.options).map((n) => `--${n}`);
    const takes = names.length > 0 ? `it takes ${names.join(', ')}` : 'it takes no option';
    throw new UsageError(`Unknown option '${unknown.split('=')[0]}' for 'bigbigan ${c.name}': ${takes}`, c.name);
  }
  try {
    const { values, positionals } = parseArgs({ args: joined, options, strict: true, allowPositionals: c.positionals === true });
    return { values: values as OptionValues, positionals };
  } catch (e) {
    throw new UsageError((e as Error).message, c.name);
  }
}

/** A whole-number option, or one clear error. */
export function intOption(values: OptionValues, name: string, fallback: number, min = 1): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`Expected --${name} to be a whole number ≥ ${min}, but got '${String(raw)}'`);
  return v;
}

/** A string option (undefined when absent). */
export const stringOption = (values: OptionValues, name: string): string | undefined => values[name] as string | undefined;

/** --preset, --ablation and every --set (then `extra` settings), resolved; a bad one is a usage error. */
export function configOption(values: OptionValues, extra: string[] = [],
                             defaultPreset = 'mnist'): { preset: string; ablation: string; cfg: Config } {
  const preset = stringOption(values, 'preset') ?? defaultPreset, ablation = stringOption(values, 'ablation') ?? 'base';
  try {
    return { preset, ablation, cfg: resolveConfig(preset, ablation, [...((values.set as string[] | undefined) ?? []), ...extra]) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
