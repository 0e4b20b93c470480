import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueCertificate } from '../federation/crypto/issue.js';
import { generateKeyPair } from '../federation/crypto/sm2.js';
import { entityToRow, sanctionToRow } from '../federation/records/dataspec.js';
import { entityProfile, sanction, usccFor } from '../federation/testing/records.js';
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

/** Login certificates for `holders` under a fresh root, as the folder `tongxing import certificates` reads. */
function certificateFolder(dir: string, holders: readonly string[]) {
  const keyPair = generateKeyPair();
  const name = { commonName: 'Bench SM2 Root CA' };
  const now = Date.now();
  const root = issueCertificate({ subject: name, publicKey: keyPair.publicKey, issuer: { name, keyPair }, serialNumber: 1n, notBefore: new Date(now - dayMs), notAfter: new Date(now + 3650 * dayMs), ca: true });
  const pem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
  mkdirSync(join(dir, 'ca'), { recursive: true });
  writeFileSync(join(dir, 'ca', 'root.pem'), pem(root));
  const leaves = holders.map((uscc, i) =>
    pem(issueCertificate({ subject: { commonName: `Company ${uscc}` }, publicKey: generateKeyPair().publicKey, issuer: { name, keyPair }, serialNumber: BigInt(i + 2), notBefore: new Date(now - dayMs), notAfter: new Date(now + 365 * dayMs) })),
  );
  writeFileSync(join(dir, 'leaves.pem'), leaves.join(''));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(holders.map((uscc, i) => ({ CERT_SERIAL: (i + 2).toString(16), LEGAL_CODE: uscc }))));
  return { root, dir };
}

export async function importFigures(rows = 100_000, certificates = 10_000) {
  const folder = certificateFolder(join(tmpdir(), `tongxing-bench-certs-${process.pid}`), Array.from({ length: certificates }, (_, i) => usccFor(i)));
  const { dir, cities } = await writeLocalAlliance({ cities: 2, trustedCaRoots: [folder.root] });
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
    const certificateSeconds = await timedImport('certificates', folder.dir, address);
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
    rmSync(folder.dir, { recursive: true, force: true });
  }
}
