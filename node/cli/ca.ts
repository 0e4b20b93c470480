import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { issueCertificate } from '../../federation/crypto/issue.js';
import { readPrivateKeyPem, readPublicKeyPem, toPem, writePrivateKeyPem } from '../../federation/crypto/pem.js';
import { generateKeyPair } from '../../federation/crypto/sm2.js';
import { sm3Hex } from '../../federation/crypto/sm3.js';
import { parseCertificate } from '../../federation/crypto/x509.js';
import { exitOk, optional, printJson, required, UsageError, type Command, type Parsed } from './command.js';
import { writeOutput } from './crypto.js';

// `tongxing ca init|issue`: an SM2 certificate authority of the alliance's own,
// for alliances whose centers do not use a commercial CA's USB keys yet, and for
// trials. The files are what `openssl` makes and reads (PKCS#8 key, PEM
// certificate signed SM2-with-SM3 with the default ID), so the root can be
// given to `alliance draft --trust-ca` and a certificate to `cert record`.

const dayMs = 86_400_000;
/** A root is valid ten years unless --days says otherwise; an end-entity certificate one year. */
const rootDaysDefault = 3650;
const leafDaysDefault = 365;

/** CA.pem -> CA.key.pem: the key beside its certificate. */
export const caKeyPathFor = (certificateFile: string): string => certificateFile.replace(/\.pem$/, '') + '.key.pem';

function days(args: Parsed, fallback: number): number {
  const text = optional(args, 'days');
  if (text === undefined) return fallback;
  if (!/^[1-9]\d{0,4}$/.test(text)) throw new UsageError(`--days must be a whole number of days from 1 to 99999; got ${JSON.stringify(text)}`);
  return Number(text);
}

/** A positive 63-bit serial: unique without a counter (RFC 5280 allows up to 20 octets). */
const randomSerial = (): bigint => randomBytes(8).readBigUInt64BE() >> 1n || 1n;

function refuseExisting(files: string[], force: boolean): void {
  // Every file is checked before any is written, so a refusal leaves nothing half-written.
  for (const file of files) if (!force && existsSync(file)) throw new UsageError(`${file} exists; pass --force to overwrite it`);
}

const init: Command = {
  path: ['ca', 'init'],
  summary: 'make an SM2 root CA: a self-signed certificate to trust in the genesis, and its key',
  usage: [
    '--out ROOT.pem --name NAME [--days N] [--force] [--json]',
    '',
    '  --out ROOT.pem  the root certificate (PEM); its key goes to ROOT.key.pem (PKCS#8, mode 0600)',
    '  --name NAME     the CA\'s common name, e.g. "Western Cities Trading Alliance Root CA"',
    `  --days N        validity from now (default ${rootDaysDefault})`,
    '',
    'The same as: openssl genpkey -algorithm SM2 -out ROOT.key.pem && openssl req -x509 -new -key ROOT.key.pem',
    '  -sm3 -sigopt distid:1234567812345678 -subj "/CN=NAME" -days N -addext basicConstraints=critical,CA:TRUE',
    '  -addext keyUsage=critical,keyCertSign,cRLSign -out ROOT.pem',
  ].join('\n'),
  options: { out: { type: 'string' }, name: { type: 'string' }, days: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
  async run(args, io) {
    const certificateFile = required(args, 'out');
    const keyFile = caKeyPathFor(certificateFile);
    const name = { commonName: required(args, 'name') };
    const validDays = days(args, rootDaysDefault);
    const force = args.values.force === true;
    refuseExisting([certificateFile, keyFile], force);
    const keyPair = generateKeyPair();
    const now = Date.now();
    const der = issueCertificate({ subject: name, publicKey: keyPair.publicKey, issuer: { name, keyPair }, serialNumber: randomSerial(), notBefore: new Date(now), notAfter: new Date(now + validDays * dayMs), ca: true });
    writeOutput(keyFile, writePrivateKeyPem(keyPair), { mode: 0o600, flag: force ? 'w' : 'wx' });
    chmodSync(keyFile, 0o600); // `mode` applies only when the file is created
    writeOutput(certificateFile, toPem('CERTIFICATE', der), { flag: force ? 'w' : 'wx' });
    const fingerprint = sm3Hex(der);
    if (args.values.json) printJson(io, { certificateFile, keyFile, subject: `CN=${name.commonName}`, fingerprint, notAfter: new Date(now + validDays * dayMs).toISOString() });
    else io.stdout(`root CA "${name.commonName}" in ${certificateFile} (SM3 ${fingerprint}), its key in ${keyFile} (mode 0600): keep the key offline\n`);
    return exitOk;
  },
};

const issue: Command = {
  path: ['ca', 'issue'],
  summary: 'issue an SM2 certificate for a public key (a USB key holder, a test login) signed by a CA made with ca init',
  usage: [
    '--ca ROOT.pem --pub HOLDER.pub.pem --name NAME --out CERT.pem [--days N] [--force]',
    '',
    '  --ca ROOT.pem      the issuing CA\'s certificate; its key is read from ROOT.key.pem',
    '  --pub FILE         the holder\'s SM2 public key (SPKI PEM, e.g. KEY.pub.pem from tongxing keygen)',
    '  --name NAME        the holder\'s common name, e.g. "Dianchi Road & Bridge 91530100MA6K000000"',
    `  --days N           validity from now (default ${leafDaysDefault})`,
  ].join('\n'),
  options: { ca: { type: 'string' }, pub: { type: 'string' }, name: { type: 'string' }, out: { type: 'string' }, days: { type: 'string' }, force: { type: 'boolean' } },
  async run(args, io) {
    const caFile = required(args, 'ca');
    const ca = parseCertificate(readFileSync(caFile));
    const caKey = readPrivateKeyPem(readFileSync(caKeyPathFor(caFile), 'utf8'));
    if (!Buffer.from(caKey.publicKey).equals(ca.publicKey)) throw new UsageError(`${caKeyPathFor(caFile)} is not the key of ${caFile}`);
    const commonName = /^CN=(.*)$/.exec(ca.subject)?.[1];
    if (commonName === undefined) throw new UsageError(`${caFile}: issuing needs a CA named by one common name (CN=...), as ca init makes; its subject is ${ca.subject}`);
    const publicKey = readPublicKeyPem(readFileSync(required(args, 'pub'), 'utf8'));
    const out = required(args, 'out');
    const force = args.values.force === true;
    refuseExisting([out], force);
    const now = Date.now();
    const notAfterMs = Math.min(now + days(args, leafDaysDefault) * dayMs, ca.notAfter.getTime());
    const der = issueCertificate({ subject: { commonName: required(args, 'name') }, publicKey, issuer: { name: { commonName }, keyPair: caKey }, serialNumber: randomSerial(), notBefore: new Date(now), notAfter: new Date(notAfterMs) });
    writeOutput(out, toPem('CERTIFICATE', der), { flag: force ? 'w' : 'wx' });
    io.stdout(`certificate for "${required(args, 'name')}" in ${out}, issued by "${commonName}", valid until ${new Date(notAfterMs).toISOString().slice(0, 10)}\n`);
    return exitOk;
  },
};

export const caCommands: Command[] = [init, issue];
