// `npm run sim --silent -- [options]`: runs one scenario (or, for soak, many
// seeds) and prints a report; `--json` prints one JSON object instead.
// Exit status: 0 when every invariant held, 1 when one did not (the report
// says how to replay the seed), 2 for a usage error.

import { fileURLToPath } from 'node:url';
import { writeChart } from './chart.js';
import { byzantineBehaviours } from './byzantine.js';
import { dissemination, formatReport, type RunReport } from './report.js';
import { isByzantineBehaviour, replayCommand, runSimulation, scenarioNames, simulationOptionsDefault, soakOptions, type ScenarioName, type SimulationOptions } from './scenarios.js';

const usage = `usage: npm run sim --silent -- [options]

  --scenario NAME        ${scenarioNames.join(' | ')} (default steady)
  --nodes N              alliance size (default ${simulationOptionsDefault.nodes}; soak draws 12-40)
  --loss P               message loss probability per link (default ${simulationOptionsDefault.loss})
  --seed S               seed (default ${simulationOptionsDefault.seed}); soak: the first seed
  --seeds K              soak: run K seeds, S, S+1, ... (default 1)
  --duration-ms D        active phase of virtual time (default ${simulationOptionsDefault.durationMs}; soak draws 12-30 s)
  --settle-ms D          longest wait for convergence after it (default ${simulationOptionsDefault.settleMsMax})
  --rate R               honest writes per second, alliance-wide (default ${simulationOptionsDefault.writesPerSecond})
  --latency-min-ms A     one-way latency, uniform in A..B (default ${simulationOptionsDefault.latencyMinMs}..${simulationOptionsDefault.latencyMaxMs})
  --latency-max-ms B
  --duplicate P          message duplication probability (default 0)
  --beacon-ms T          head beacon interval (default ${simulationOptionsDefault.beaconIntervalMs})
  --anti-entropy-ms T    anti-entropy round interval (default ${simulationOptionsDefault.antiEntropyIntervalMs})
  --partition-ms T       partition-heal: how long the halves stay apart (default ${simulationOptionsDefault.partitionMs})
  --byzantine LIST       byzantine: comma-separated behaviours (${byzantineBehaviours.join(', ')})
  --byzantine-nodes N    byzantine: how many members misbehave (default max(behaviours, 5%))
  --crash-in-rebuild     byzantine: an honest node crashes inside the view rebuild an equivocation starts
  --flood-publish        own announcements go to every peer, not only the mesh (node/gossip.ts does this)
  --json                 print one JSON object
  --chart DIR            write the SVG chart under DIR (default reports/; soak: failing seeds only)
  --no-chart             write no chart
`;

class UsageError extends Error {
  override name = 'UsageError';
}

interface CliOptions {
  readonly simulation: SimulationOptions;
  readonly explicit: ReadonlySet<string>;
  readonly seeds: number;
  readonly json: boolean;
  readonly chartDirectory: string | undefined;
}

function parseArgs(argv: readonly string[]): CliOptions {
  const options: { -readonly [K in keyof SimulationOptions]: SimulationOptions[K] } = { ...simulationOptionsDefault };
  const explicit = new Set<string>();
  let seeds = 1;
  let json = false;
  let chartDirectory: string | undefined = 'reports';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    const number = (min: number, max = Infinity, integer = false): number => {
      const text = value();
      const parsed = Number(text);
      if (text.trim() === '' || !Number.isFinite(parsed) || parsed < min || parsed > max || (integer && !Number.isInteger(parsed))) {
        throw new UsageError(`${arg} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got "${text}"`);
      }
      return parsed;
    };
    const set = <K extends keyof SimulationOptions>(key: K, v: SimulationOptions[K]): void => {
      options[key] = v;
      explicit.add(key);
    };
    switch (arg) {
      case '--scenario': {
        const name = value();
        if (!(scenarioNames as readonly string[]).includes(name)) throw new UsageError(`unknown scenario "${name}" (${scenarioNames.join(', ')})`);
        set('scenario', name as ScenarioName);
        break;
      }
      case '--nodes':
        set('nodes', number(2, 2000, true));
        break;
      case '--loss':
        set('loss', number(0, 0.9));
        break;
      case '--duplicate':
        set('duplicate', number(0, 0.9));
        break;
      case '--seed':
        set('seed', value());
        break;
      case '--seeds':
        seeds = number(1, 1_000_000, true);
        break;
      case '--duration-ms':
        set('durationMs', number(1000, 3_600_000, true));
        break;
      case '--settle-ms':
        set('settleMsMax', number(0, 3_600_000, true));
        break;
      case '--rate':
        set('writesPerSecond', number(0, 10_000));
        break;
      case '--latency-min-ms':
        set('latencyMinMs', number(0, 60_000));
        break;
      case '--latency-max-ms':
        set('latencyMaxMs', number(0, 60_000));
        break;
      case '--beacon-ms':
        set('beaconIntervalMs', number(0, 3_600_000, true) || Infinity);
        break;
      case '--anti-entropy-ms':
        set('antiEntropyIntervalMs', number(0, 3_600_000, true) || Infinity);
        break;
      case '--partition-ms':
        set('partitionMs', number(0, 3_600_000, true));
        break;
      case '--byzantine': {
        const list = value()
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== '');
        for (const name of list) if (!isByzantineBehaviour(name)) throw new UsageError(`unknown byzantine behaviour "${name}" (${byzantineBehaviours.join(', ')})`);
        set('byzantine', list as SimulationOptions['byzantine']);
        break;
      }
      case '--byzantine-nodes':
        set('byzantineNodes', number(0, 2000, true));
        break;
      case '--flood-publish':
        set('floodPublish', true);
        break;
      case '--crash-in-rebuild':
        set('crashInRebuild', true);
        break;
      case '--json':
        json = true;
        break;
      case '--chart':
        chartDirectory = value();
        break;
      case '--no-chart':
        chartDirectory = undefined;
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option "${arg}"`);
    }
  }
  if (options.latencyMaxMs < options.latencyMinMs) throw new UsageError(`--latency-max-ms ${options.latencyMaxMs} is below --latency-min-ms ${options.latencyMinMs}`);
  if (seeds > 1 && options.scenario !== 'soak') throw new UsageError('--seeds is for --scenario soak');
  return { simulation: options, explicit, seeds, json, chartDirectory };
}

/** Seed i of a soak: numeric seeds count up, others get a suffix. */
function soakSeed(first: string, i: number): string {
  return /^\d+$/.test(first) ? String(Number(first) + i) : i === 0 ? first : `${first}-${i}`;
}

async function runOne(cli: CliOptions, options: SimulationOptions, writeCharts: boolean): Promise<{ report: RunReport; chart: string | undefined }> {
  const result = await runSimulation(options, cli.explicit);
  let chart: string | undefined;
  if (writeCharts && cli.chartDirectory !== undefined) {
    const { t99Ms, t100Ms } = dissemination(
      result.tracker.records,
      result.alliance.honestNodes().map((node) => node.index),
    );
    chart = writeChart(cli.chartDirectory, result.report, t99Ms, t100Ms, result.heal);
  }
  return { report: result.report, chart };
}

async function main(argv: readonly string[]): Promise<number> {
  let cli: CliOptions;
  try {
    cli = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message !== '') process.stderr.write(`sim: ${error.message}\n\n`);
    process.stderr.write(usage);
    return 2;
  }

  if (cli.simulation.scenario !== 'soak' || cli.seeds === 1) {
    // One run (a soak seed alone, as its replay command asks, prints in full).
    const options = cli.simulation.scenario === 'soak' ? soakOptions(cli.simulation, cli.simulation.seed, cli.explicit) : cli.simulation;
    const { report, chart } = await runOne(cli, options, true);
    if (cli.json) {
      process.stdout.write(JSON.stringify(chart === undefined ? report : { ...report, chart }) + '\n');
    } else {
      process.stdout.write(formatReport(report) + '\n');
      if (chart !== undefined) process.stdout.write(`  chart: ${chart}\n`);
    }
    return report.invariant_violations === 0 ? 0 : 1;
  }

  // Soak: many seeds, each drawing its own alliance, links and faults.
  const started = performance.now();
  const failing: Array<{ seed: string; violations: number; kinds: string[]; replay: string; chart: string | undefined }> = [];
  const runs: Array<Pick<RunReport, 'seed' | 'nodes' | 'loss' | 'records' | 't100_ms_p99' | 'settle_ms' | 'invariant_violations' | 'events' | 'wall_ms'> & { faults: number; byzantine: string }> = [];
  for (let i = 0; i < cli.seeds; i++) {
    const seed = soakSeed(cli.simulation.seed, i);
    const options = soakOptions(cli.simulation, seed, cli.explicit);
    let report: RunReport;
    let chart: string | undefined;
    try {
      ({ report, chart } = await runOne(cli, options, false));
    } catch (error) {
      // A crash of the simulator or an assertion in the code under test: as much a failure as a violated invariant.
      const replay = replayCommand(options, cli.explicit);
      process.stderr.write(`seed ${seed}: run failed: ${(error as Error).stack ?? String(error)}\n  replay: ${replay}\n`);
      failing.push({ seed, violations: 1, kinds: ['run-failed'], replay, chart: undefined });
      continue;
    }
    if (report.invariant_violations > 0 && cli.chartDirectory !== undefined) ({ chart } = await runOne(cli, options, true));
    const byzantine = Object.entries(report.byzantine)
      .map(([name, count]) => `${count}x${name}`)
      .join(',');
    runs.push({
      seed,
      nodes: report.nodes,
      loss: report.loss,
      records: report.records,
      t100_ms_p99: report.t100_ms_p99,
      settle_ms: report.settle_ms,
      invariant_violations: report.invariant_violations,
      events: report.events,
      wall_ms: report.wall_ms,
      faults: report.faults.length,
      byzantine,
    });
    if (report.invariant_violations > 0) {
      failing.push({ seed, violations: report.invariant_violations, kinds: [...new Set(report.violations.map((v) => v.kind))], replay: report.replay, chart });
    }
    if (!cli.json) {
      const status = report.invariant_violations === 0 ? 'ok' : `FAIL ${report.invariant_violations} (${[...new Set(report.violations.map((v) => v.kind))].join(', ')})`;
      process.stdout.write(
        `seed ${seed.padEnd(6)} ${String(report.nodes).padStart(3)} nodes loss ${String(report.loss).padEnd(4)} ${String(report.faults.length).padStart(2)} faults${byzantine ? ` byz ${byzantine}` : ''}: ${report.records} records, T100 p99 ${report.t100_ms_p99 ?? 'never'} ms, settled ${report.settle_ms ?? 'never'} ms, ${report.wall_ms} ms wall  ${status}\n`,
      );
      if (report.invariant_violations > 0) {
        for (const v of report.violations.slice(0, 5)) process.stdout.write(`    [${v.kind}] ${v.node ?? ''} ${v.detail}\n`);
        process.stdout.write(`    replay: ${report.replay}\n`);
      }
    }
  }
  const summary = {
    scenario: 'soak',
    seeds: cli.seeds,
    first_seed: cli.simulation.seed,
    failing_seeds: failing.length,
    invariant_violations: failing.reduce((sum, f) => sum + f.violations, 0),
    wall_ms: Math.round(performance.now() - started),
    failing,
    runs,
  };
  if (cli.json) {
    process.stdout.write(JSON.stringify(summary) + '\n');
  } else {
    process.stdout.write(`\nsoak: ${cli.seeds} seeds from ${cli.simulation.seed}, ${failing.length} failing, ${summary.wall_ms} ms wall\n`);
    for (const f of failing) process.stdout.write(`  seed ${f.seed}: ${f.violations} violations (${f.kinds.join(', ')})\n    replay: ${f.replay}\n`);
  }
  return failing.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`sim: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

export { main, parseArgs };
