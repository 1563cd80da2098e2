#!/usr/bin/env node
/**
 * `thresholds check [file]`: validates a rules file the way the gateway would load it, for editors, CI and
 * operators before a reload. Without [file] it checks the gateway config's alerts.rulesFile (GATEWAY_CONFIG
 * names the config, as for the gateway). Prints `file:line:column: path: message` per problem on stdout (like tsc), then a count.
 * Exit codes: 0 valid, 1 invalid rules file, 2 the gateway config itself cannot be loaded.
 */
import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import { formatDuration } from '../config/units.js';
import { loadRulesFile } from './rules-file.js';
import { formatRuleError } from './rules-parse.js';
import type { AlertRule } from './types.js';

function summary(file: string, rules: readonly AlertRule[]): string {
  const threshold = rules.filter((r) => r.kind === 'threshold').length;
  const noData = rules.length - threshold;
  const shortest = rules.reduce<number | null>((m, r) => (r.kind === 'noData' && (m === null || r.noDataMs < m) ? r.noDataMs : m), null);
  return (
    `${file}: OK, ${rules.length} rule${rules.length === 1 ? '' : 's'} (${threshold} threshold, ${noData} noData` +
    (shortest !== null ? `, shortest noData ${formatDuration(shortest)}` : '') +
    ')'
  );
}

function check(fileArg: string | undefined): number {
  let file = fileArg;
  if (file === undefined) {
    try {
      file = loadConfig(process.env).config.alerts.rulesFile;
    } catch (err) {
      process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
      return 2;
    }
  }
  const result = loadRulesFile(file);
  if (!result.ok) {
    for (const e of result.errors) process.stdout.write(`${formatRuleError(file, e)}\n`);
    process.stdout.write(`${file}: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  process.stdout.write(`${summary(file, result.rules)}\n`);
  return 0;
}

const program = new Command('thresholds').description('Alert rules (thresholds) tooling');
program
  .command('check')
  .description('validate a rules file (default: alerts.rulesFile of the gateway config)')
  .argument('[file]', 'rules file to check')
  .action((file: string | undefined) => {
    process.exitCode = check(file);
  });

await program.parseAsync(process.argv);
