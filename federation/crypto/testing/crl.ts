// Test support: CA-signed SM2 CRLs made by the OpenSSL CLI (`openssl ca -revoke`,
// `-gencrl` with the default distinguishing ID), for the CAs of testing/openssl.ts.
// Tests only; spawns processes and writes files.
import { readFileSync, writeFileSync } from 'node:fs';
import { defaultDistinguishingId } from '../sm2.js';
import { openssl, type IssuedCertificate, type TempDir } from './openssl.js';

export type CrlReasonName = 'unspecified' | 'keyCompromise' | 'CACompromise' | 'affiliationChanged' | 'superseded' | 'cessationOfOperation' | 'certificateHold';

/**
 * A CRL (PEM file path) signed by `ca`, listing `revoked` certificates. Each
 * call keeps its own CA database, so several CRLs of one CA can differ.
 */
export function opensslCrl(dir: TempDir, name: string, ca: IssuedCertificate, revoked: ReadonlyArray<{ cert: string; reason?: CrlReasonName }>): string {
  const index = dir.write(`${name}.index.txt`, '');
  const crlNumber = dir.write(`${name}.crlnumber`, '1000\n');
  const config = dir.write(
    `${name}.ca.cnf`,
    [
      '[ca]',
      'default_ca = CA_default',
      '[CA_default]',
      `database = ${index}`,
      `crlnumber = ${crlNumber}`,
      'default_md = sm3',
      'default_crl_days = 30',
      `certificate = ${ca.cert}`,
      `private_key = ${ca.key}`,
      '',
    ].join('\n'),
  );
  for (const { cert, reason } of revoked) {
    openssl(['ca', '-config', config, '-revoke', cert, ...(reason ? ['-crl_reason', reason] : [])]);
  }
  const out = dir.file(`${name}.crl.pem`);
  openssl(['ca', '-config', config, '-gencrl', '-sigopt', `distid:${defaultDistinguishingId}`, '-out', out]);
  return out;
}

/** The DER of a PEM CRL file. */
export function crlDer(pemFile: string): Uint8Array {
  return new Uint8Array(openssl(['crl', '-in', pemFile, '-outform', 'DER']));
}

/** A copy of `der` with one byte changed at `offsetFromEnd` (inside the signature by default). */
export function tampered(der: Uint8Array, offsetFromEnd = 10): Uint8Array {
  const copy = new Uint8Array(der);
  copy[copy.length - offsetFromEnd] = copy[copy.length - offsetFromEnd]! ^ 0x01;
  return copy;
}

/** Writes bytes, returning the path (for `openssl -in`). */
export function writeBytes(dir: TempDir, name: string, bytes: Uint8Array): string {
  const path = dir.file(name);
  writeFileSync(path, bytes);
  return path;
}

export const readPem = (path: string): string => readFileSync(path, 'utf8');
