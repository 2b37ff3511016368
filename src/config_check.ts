/**
 * The one validation of a configuration: every key within its range
 * (config.ts CONFIG_RANGES, stated once) and the keys consistent with each
 * other (G's depth and resolution, E's and D's shapes, a loss term that
 * reaches G, the dataset's channels). The CLI's --set, the presets and
 * ablation rows, the notebook helpers, the sweeps, the queue workers and
 * trainRun itself all go through it, so a value refused on one path is
 * refused on every path, and no path trains something other than what was
 * asked (nanoGPT's configurator: an unknown key or a wrong type is an error).
 */
import { Config, CONFIG_RANGES, DEFAULT_CONFIG, KeyRange } from './config';
import { checkLossConfig } from './model/losses';
import { fBlockResolutions } from './model/discriminator';
import { checkEncoderConfig } from './model/encoder';
import { checkGeneratorConfig } from './model/generator';

const KEYS = Object.keys(DEFAULT_CONFIG) as Array<keyof Config>;

/** The error for a name that is not a config key. */
function unknownKey(key: string): Error {
  return new Error(`Expected a config key (${KEYS.join(', ')}), but got '${key}'`);
}

/** A range in words: "a whole number ≥ 1", "a number in [0, 1)", "one of mlp, projection, pairing". */
export function describeRange(r: KeyRange): string {
  switch (r.kind) {
    case 'int': return r.max === undefined ? `a whole number ≥ ${r.min}` : `a whole number in [${r.min}, ${r.max}]`;
    case 'number':
      if (r.max === undefined) return `a number ${r.openMin ? '>' : '≥'} ${r.min}`;
      return `a number in ${r.openMin ? '(' : '['}${r.min}, ${r.max}${r.openMax ? ')' : ']'}`;
    case 'bool': return 'true or false';
    case 'choice': return `one of ${r.values.join(', ')}`;
    case 'ints': return `a non-empty list of whole numbers ≥ ${r.min}`;
    case 'string': return 'a string';
  }
}

const wholeAtLeast = (v: unknown, min: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;

/** Whether `v` lies in `r`. */
function inRange(r: KeyRange, v: unknown): boolean {
  switch (r.kind) {
    case 'int': return wholeAtLeast(v, r.min) && (r.max === undefined || (v as number) <= r.max);
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return false;
      const aboveMin = r.openMin ? v > r.min : v >= r.min;
      return aboveMin && (r.max === undefined || (r.openMax ? v < r.max : v <= r.max));
    }
    case 'bool': return typeof v === 'boolean';
    case 'choice': return r.values.includes(v as string | number);
    case 'ints': return Array.isArray(v) && v.length > 0 && v.every((n) => wholeAtLeast(n, r.min));
    case 'string': return typeof v === 'string';
  }
}

/** A value as a message shows it: strings quoted, numbers as JS prints them (NaN, Infinity), the rest as JSON. */
function shown(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || v === undefined) return String(v);
  return JSON.stringify(v);
}

/** Throws "Expected <range> for config key 'k', but got <v>" unless `v` is a valid value of `key`. */
export function checkValue(key: string, v: unknown): void {
  if (!(key in CONFIG_RANGES)) throw unknownKey(key);
  const r = CONFIG_RANGES[key as keyof Config];
  if (!inRange(r, v)) throw new Error(`Expected ${describeRange(r)} for config key '${key}', but got ${shown(v)}`);
}

/** Parses `raw` (as typed after --set key=) for `key`, then checks its range; one clear error otherwise. */
export function parseSetting(key: string, raw: string): Partial<Config> {
  if (!(key in CONFIG_RANGES)) throw unknownKey(key);
  const r = CONFIG_RANGES[key as keyof Config];
  let v: unknown = raw;
  if (r.kind === 'int' || r.kind === 'number' || (r.kind === 'choice' && typeof r.values[0] === 'number')) {
    v = raw.trim() === '' ? NaN : Number(raw);
  } else if (r.kind === 'bool') {
    v = raw === 'true' ? true : raw === 'false' ? false : raw;
  } else if (r.kind === 'ints') {
    v = raw.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
    if (!inRange(r, v)) {
      throw new Error(`Expected a comma-separated list of whole numbers ≥ ${r.min} for config key '${key}', but got '${raw}'`);
    }
  }
  if (!inRange(r, v)) throw new Error(`Expected ${describeRange(r)} for config key '${key}', but got '${raw}'`);
  return { [key]: v } as Partial<Config>;
}

/** Checks every key of a partial config (notebook overrides, ablation deltas): known keys, values in range. */
export function checkOverrides(delta: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(delta)) checkValue(k, v);
}

/** SAGAN's attention takes C/8 channels for queries and keys: its block needs a multiple of 8 (layers.ts selfAttention). */
function checkAttentionWidth(net: 'g' | 'd', side: number, ch: number, mult: number): void {
  if ((ch * mult) % 8 !== 0) {
    throw new Error(`Expected ${net}Ch·${net}Mults at the ${net}Attention block (side ${side}) to be a multiple of 8 channels, ` +
                    `but got ${ch}·${mult} = ${ch * mult} (set ${net}Attention=0 for none)`);
  }
}

/** The checks between keys; each throws one "Expected …, but got …" sentence. */
function checkConsistency(cfg: Config): void {
  const grey = cfg.dataset === 'mnist' || cfg.dataset === 'fashion';
  if ((grey && cfg.channels !== 1) || (cfg.dataset === 'cifar10' && cfg.channels !== 3)) {
    throw new Error(`Expected channels ${grey ? 1 : 3} for dataset '${cfg.dataset}', but got ${cfg.channels}`);
  }
  checkGeneratorConfig(cfg);
  if (cfg.eResolution % cfg.resolution !== 0) {
    throw new Error(`Expected eResolution to be a whole multiple of resolution (${cfg.resolution}), but got ${cfg.eResolution}`);
  }
  const sides = fBlockResolutions(cfg.resolution, cfg.dMults.length);
  if (cfg.dAttention !== 0 && !sides.includes(cfg.dAttention)) {
    throw new Error(`Expected dAttention to be 0 or a block resolution of F (${sides.join(', ')}), but got ${cfg.dAttention}`);
  }
  // G's block i ends at side 8·2^i with gCh·gMults[i+1] channels; F's block i at sides[i] with dCh·dMults[i].
  if (cfg.gAttention !== 0) checkAttentionWidth('g', cfg.gAttention, cfg.gCh, cfg.gMults[Math.log2(cfg.gAttention / 8) + 1]);
  if (cfg.dAttention !== 0) checkAttentionWidth('d', cfg.dAttention, cfg.dCh, cfg.dMults[sides.indexOf(cfg.dAttention)]);
  if (!cfg.noEncoder) checkEncoderConfig(cfg);
  checkLossConfig(cfg);
}

/**
 * Returns `cfg` as a Config when it is one the kit trains as asked: no key
 * missing or unknown, every value within its range, the keys consistent.
 * Otherwise throws one sentence naming the key and the value.
 */
export function validateConfig(cfg: unknown): Config {
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) throw new Error(`Expected a config object, but got ${shown(cfg)}`);
  const obj = cfg as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (!(k in CONFIG_RANGES)) throw unknownKey(k);
  const missing = KEYS.filter((k) => !(k in obj));
  if (missing.length > 0) {
    throw new Error(`Expected every config key, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`);
  }
  checkOverrides(obj);
  checkConsistency(obj as unknown as Config);
  return obj as unknown as Config;
}
