import '../node/polyfill.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestFigures } from './ingest.js';
import { levelFigures, sm2Figures, sm3Figures } from './micro.js';

// `make bench` / `npm run bench --silent -- --json`: every figure measured in
// this one run, side by side, with the ratios the targets are stated in.

type Figures = Record<string, number | string | boolean>;

const sections: Record<string, () => Promise<Figures>> = {
  sm2: sm2Figures,
  sm3: sm3Figures,
  leveldb: () => levelFigures(),
  ingest: () => ingestFigures(),
  // Loaded only when these run: gRPC and libp2p modules stay out of the micro benchmarks' process state.
  propagation: async () => (await import('./federation.js')).propagationFigures(),
  catchup: async () => (await import('./federation.js')).catchupFigures(),
  hypercore: async () => (await import('./federation.js')).hypercoreFigures(),
  access: async () => (await import('./access.js')).accessFigures(),
  flood: async () => (await import('./flood.js')).floodFigures(),
  imports: async () => (await import('./imports.js')).importFigures(),
  credit: async () => (await import('./credit.js')).creditFigures(),
  console: async () => (await import('./console.js')).consoleFigures(),
};

/** The issues' targets: name, test, and the figures it needs (a target without them is not reported). */
const targets: Array<[string, (f: Figures) => boolean, string[]]> = [
  ['sm2_verify_per_s >= 600', (f) => Number(f.sm2_verify_per_s) >= 600, ['sm2_verify_per_s']],
  ['ingest_entries_per_s >= 50000', (f) => Number(f.ingest_entries_per_s) >= 50_000, ['ingest_entries_per_s']],
  ['ingest >= 1/3 of raw LevelDB batch writes', (f) => Number(f.ingest_vs_leveldb) >= 1 / 3, ['ingest_vs_leveldb']],
  ['propagation p99 < 150 ms (5 processes, 200 sanctions)', (f) => Number(f.propagation_ms_p99) < 150, ['propagation_ms_p99']],
  ['catchup_entries_per_s >= 20000', (f) => Number(f.catchup_entries_per_s) >= 20_000, ['catchup_entries_per_s']],
  ['replication_vs_hypercore >= 1.0', (f) => Number(f.replication_vs_hypercore) >= 1, ['replication_vs_hypercore']],
  ['sanction check with authentication >= 0.9 of without (gRPC)', (f) => Number(f.check_grpc_auth_ratio) >= 0.9, ['check_grpc_auth_ratio']],
  ['sanction check with authentication >= 0.9 of without (HTTP)', (f) => Number(f.check_http_auth_ratio) >= 0.9, ['check_http_auth_ratio']],
  ['entity import >= 20000 rows/s end to end', (f) => Number(f.import_entities_rows_per_s) >= 20_000, ['import_entities_rows_per_s']],
  ['sanction import >= 20000 rows/s end to end', (f) => Number(f.import_sanctions_rows_per_s) >= 20_000, ['import_sanctions_rows_per_s']],
  ['sanction check p99 under a member\'s gossip flood <= 2x without', (f) => Number(f.check_p99_flooded_vs_quiet) <= 2, ['check_p99_flooded_vs_quiet']],
  ['daily credit index of 100000 subjects (1000000 records) < 60 s', (f) => Number(f.credit_daily_index_s) < 60, ['credit_daily_index_s']],
  ['credit index update for one new record < 1 ms', (f) => Number(f.credit_incremental_ms_median) < 1, ['credit_incremental_ms_median']],
  ['console first load < 1 MB compressed', (f) => Number(f.console_first_load_bytes) < 1_000_000, ['console_first_load_bytes']],
];

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const only = argv.filter((a) => !a.startsWith('--'));
  const figures: Figures = {};
  for (const [name, run] of Object.entries(sections)) {
    if (only.length > 0 && !only.includes(name)) continue;
    if (!json) process.stderr.write(`bench: ${name}...\n`);
    Object.assign(figures, await run());
  }
  if (figures.catchup_entries_per_s !== undefined && figures.hypercore_entries_per_s !== undefined) {
    figures.replication_vs_hypercore = Number(figures.catchup_entries_per_s) / Number(figures.hypercore_entries_per_s);
  }
  if (figures.import_certificates_rows_per_s !== undefined && figures.sm2_verify_per_s !== undefined) {
    // A certificate import is bounded by chain verification: 1.0 would be one SM2 verification per row and nothing else.
    figures.import_certificates_vs_sm2_verify = Number(figures.import_certificates_rows_per_s) / Number(figures.sm2_verify_per_s);
  }
  if (figures.sm2_verify_per_s !== undefined && figures.sm2_verify_per_s_sm_crypto !== undefined) {
    figures.sm2_verify_vs_sm_crypto = Number(figures.sm2_verify_per_s) / Number(figures.sm2_verify_per_s_sm_crypto);
  }
  const met = Object.fromEntries(targets.filter(([, , needs]) => needs.every((k) => figures[k] !== undefined)).map(([name, ok]) => [name, ok(figures)]));
  if (json) {
    process.stdout.write(JSON.stringify({ ...figures, targets_met: met }) + '\n');
  } else {
    const width = Math.max(...Object.keys(figures).map((k) => k.length));
    for (const [key, value] of Object.entries(figures)) {
      process.stdout.write(`${key.padEnd(width)}  ${typeof value === 'number' ? (Number.isInteger(value) || value > 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(3)) : value}\n`);
    }
    for (const [name, ok] of Object.entries(met)) process.stdout.write(`${ok ? 'met ' : 'MISS'}  ${name}\n`);
  }
  return 0;
}

// Nodes the benchmarks start publish their admin credentials in a temporary home, not the user's ~/.tongxing.
const home = process.env.TONGXING_HOME ? undefined : mkdtempSync(join(tmpdir(), 'tongxing-bench-home-'));
if (home) process.env.TONGXING_HOME = home;
try {
  process.exitCode = await main(process.argv.slice(2));
} finally {
  if (home) rmSync(home, { recursive: true, force: true });
}
