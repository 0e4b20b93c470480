import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { entityToRow, sanctionToRow } from '../federation/records/dataspec.js';
import { entityProfile, sanction, usccFor } from '../federation/testing/records.js';
import { importCertificateAuthority } from '../node/cli/testing-certificates.js';
import { loadNodeConfig } from '../node/config.js';
import { writeLocalAlliance } from '../node/local-alliance.js';
import { startNode } from '../node/node.js';

// A center's first day, measured end to end: `tongxing import` of a
// data-specification JSON file into a running node (LevelDB, TLS, the access
// guard), from reading the file to the commit being durable with its views,
// the same path an operator runs. Rows/s per kind, in one run.

const dayMs = 86_400_000;

const cli = fileURLToPath(new URL('../../bin/tongxing.js', import.meta.url));

/** Seconds from starting `tongxing import` (its own process, as an operator runs it) to its exit after the commit. */
async function timedImport(kind: string, file: string, address: string): Promise<number> {
  const start = performance.now();
  const child = spawn(process.execPath, [cli, 'import', kind, file, '--node', address, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`tongxing import ${kind} exited ${code}: ${output.slice(0, 2000)}`);
  return seconds;
}

export async function importFigures(rows = 100_000, certificates = 10_000) {
  const ca = importCertificateAuthority('Bench SM2 Root CA');
  const certificateDir = ca.folder(join(tmpdir(), `tongxing-bench-certs-${process.pid}`), Array.from({ length: certificates }, (_, i) => usccFor(i)));
  const { dir, cities } = await writeLocalAlliance({ cities: 2, trustedCaRoots: [ca.root] });
  const node = await startNode(loadNodeConfig(cities[0]!.configFile));
  const address = `127.0.0.1:${node.apiPort}`;
  try {
    const entities = join(dir, 'entities.json');
    writeFileSync(entities, JSON.stringify(Array.from({ length: rows }, (_, i) => entityToRow(entityProfile(usccFor(i))))));
    const sanctions = join(dir, 'sanctions.json');
    const fromMs = Date.now() - dayMs;
    writeFileSync(sanctions, JSON.stringify(Array.from({ length: rows }, (_, i) => sanctionToRow(sanction(`BENCH-${i}`, usccFor(i), fromMs)))));
    const entitySeconds = await timedImport('entities', entities, address);
    const sanctionSeconds = await timedImport('sanctions', sanctions, address);
    // The same file again: every row checked against the node's state, nothing written.
    const unchangedSeconds = await timedImport('entities', entities, address);
    // Bounded by chain verification: one SM2 signature check per certificate not yet recorded.
    const certificateSeconds = await timedImport('certificates', certificateDir, address);
    return {
      import_certificates: certificates,
      import_certificates_rows_per_s: certificates / certificateSeconds,
      import_rows: rows,
      import_entities_rows_per_s: rows / entitySeconds,
      import_sanctions_rows_per_s: rows / sanctionSeconds,
      import_entities_unchanged_rows_per_s: rows / unchangedSeconds,
    };
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(certificateDir, { recursive: true, force: true });
  }
}
