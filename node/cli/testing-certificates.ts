import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate } from '../../federation/crypto/issue.js';
import { toPem } from '../../federation/crypto/pem.js';
import { generateKeyPair } from '../../federation/crypto/sm2.js';

// For tests and benchmarks: an SM2 root CA made in process, and folders of
// login certificates under it in the form `tongxing import certificates`
// reads (docs/IMPORTS.md): the root under ca/, every leaf in one PEM file, a
// manifest naming each leaf's holder by serial.

const dayMs = 86_400_000;

export function importCertificateAuthority(commonName: string) {
  const keyPair = generateKeyPair();
  const name = { commonName };
  const now = Date.now();
  const root = issueCertificate({ subject: name, publicKey: keyPair.publicKey, issuer: { name, keyPair }, serialNumber: 1n, notBefore: new Date(now - dayMs), notAfter: new Date(now + 3650 * dayMs), ca: true });
  let serial = 2n;
  /** Writes `dir`: one certificate per holder (an entity's USCC), with its manifest; returns `dir`. */
  const folder = (dir: string, holders: readonly string[]): string => {
    mkdirSync(join(dir, 'ca'), { recursive: true });
    writeFileSync(join(dir, 'ca', 'root.pem'), toPem('CERTIFICATE', root));
    const manifest: object[] = [];
    let leaves = '';
    for (const holder of holders) {
      const serialNumber = serial++;
      const leaf = issueCertificate({ subject: { commonName: `Company ${holder}` }, publicKey: generateKeyPair().publicKey, issuer: { name, keyPair }, serialNumber, notBefore: new Date(now - dayMs), notAfter: new Date(now + 365 * dayMs) });
      leaves += toPem('CERTIFICATE', leaf);
      manifest.push({ CERT_SERIAL: serialNumber.toString(16), LEGAL_CODE: holder });
    }
    writeFileSync(join(dir, 'leaves.pem'), leaves);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    return dir;
  };
  return { root, folder };
}
