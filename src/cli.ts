#!/usr/bin/env node
/**
 * The kit's command line: `npx bigbigan <command> [options]`. Each command (its options, usage text and
 * body) lives in src/cli/; this file is the table of commands, the help and the exit codes.
 * `bigbigan help <command>` and `bigbigan <command> --help` print a command's usage.
 */
import { Command, commandUsage, parseCommandArgs, UsageError } from './cli/command';
import { demoCommand } from './cli/demo';
import { evalCommand } from './cli/eval';
import { backendCommand, benchCommand, benchKernelsCommand } from './cli/perf';
import { resultsCommand, sweepCommand, workerCommand } from './cli/sweep';
import { paramsCommand, presetsCommand, trainCommand } from './cli/train';

/** Every command, in the order of the help text. */
export const COMMANDS: readonly Command[] = [
  trainCommand, evalCommand, sweepCommand, workerCommand, resultsCommand, presetsCommand, paramsCommand,
  benchCommand, benchKernelsCommand, demoCommand, backendCommand,
];

const HELP_FLAGS = ['--help', '-h'];

/** The command list. */
export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return ['Usage: bigbigan <command> [options]', '', 'Commands:',
          ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
          '', "Run 'bigbigan help <command>' (or 'bigbigan <command> --help') for a command's options.",
          'Backends: node-gpu, node, webgpu, wasm, cpu (default: the fastest that works; or set BIGBIGAN_BACKEND).'].join('\n');
}

function commandNamed(name: string): Command {
  const c = COMMANDS.find((x) => x.name === name);
  if (c === undefined) {
    throw new UsageError(`Expected a command (${[...COMMANDS.map((x) => x.name), 'help'].join(', ')}), but got '${name}'`);
  }
  return c;
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || HELP_FLAGS.includes(name)) {
    console.log(usage());
    return;
  }
  if (name === 'help') {
    console.log(rest[0] === undefined ? usage() : commandUsage(commandNamed(rest[0])));
    return;
  }
  const command = commandNamed(name);
  const dashes = rest.indexOf('--');
  if (rest.slice(0, dashes < 0 ? undefined : dashes).some((a) => HELP_FLAGS.includes(a))) {
    console.log(commandUsage(command));
    return;
  }
  try {
    await command.run(parseCommandArgs(command, rest));
  } catch (e) {
    if (e instanceof UsageError && e.command === undefined) throw new UsageError(e.message, command.name);
    throw e;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: Error) => {
    console.error(`bigbigan: ${e.message}`);
    if (e instanceof UsageError) console.error(`Run 'bigbigan help${e.command ? ` ${e.command}` : ''}' for usage.`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
