import { readFileSync, writeFileSync, type WriteFileOptions } from 'node:fs';
import { readPrivateKeyPem, readPublicKeyPem } from '../../federation/crypto/pem.js';
import { defaultDistinguishingId, nodeIdOf, sign, verify } from '../../federation/crypto/sm2.js';
import { readCertificates } from '../../federation/crypto/x509.js';
import {
  exitNegative,
  exitOk,
  optional,
  printJson,
  required,
  UsageError,
  type Command,
} from './command.js';

/** A file's bytes, or a UsageError (exit 2) saying which option named it and why it failed. */
export function readInput(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read ${option} ${file}: ${(error as Error).message}`);
  }
}

export function writeOutput(file: string, content: string | Uint8Array, options?: WriteFileOptions): void {
  try {
    writeFileSync(file, content, options);
  } catch (error) {
    throw new UsageError(`cannot write ${file}: ${(error as Error).message}`);
  }
}

const signCommand: Command = {
  path: ['crypto', 'sign'],
  summary: 'SM2-sign a file (GB/T 32918.2, SM3, DER signature)',
  usage: [
    '--key KEY.pem --in FILE [--out SIG] [--id ID]',
    '',
    '  --key FILE   SM2 private key, PKCS#8 PEM (tongxing keygen, openssl genpkey -algorithm SM2)',
    '  --in FILE    the bytes to sign',
    '  --out FILE   where to write the DER signature; raw DER bytes go to stdout without it',
    `  --id ID      distinguishing ID (default ${defaultDistinguishingId})`,
    '',
    `Same as: openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt distid:${defaultDistinguishingId}`,
  ].join('\n'),
  options: { key: { type: 'string' }, in: { type: 'string' }, out: { type: 'string' }, id: { type: 'string' } },
  async run(args, io) {
    const pair = readPrivateKeyPem(readInput(required(args, 'key'), '--key').toString('utf8'));
    const message = readInput(required(args, 'in'), '--in');
    const signature = sign(pair.privateKey, message, pair.publicKey, optional(args, 'id'));
    const out = optional(args, 'out');
    if (out === undefined) io.stdoutBytes(signature);
    else writeOutput(out, signature);
    return exitOk;
  },
};

const verifyCommand: Command = {
  path: ['crypto', 'verify'],
  summary: 'check an SM2 signature over a file',
  usage: [
    '(--pub PUB.pem | --cert CERT.pem) --in FILE --sig SIG [--id ID] [--json]',
    '',
    '  --pub FILE   SM2 public key, SPKI PEM',
    '  --cert FILE  take the key from this certificate (the first in the file); the',
    '               certificate itself is not checked: use `tongxing cert verify` for that',
    '  --in FILE    the signed bytes',
    '  --sig FILE   DER signature, or raw 64-byte r || s',
    `  --id ID      distinguishing ID (default ${defaultDistinguishingId})`,
    '  --json       print {valid, reason?, nodeId}',
    '',
    'Exit 0 valid, 1 invalid, 2 malformed key, certificate or signature.',
  ].join('\n'),
  options: {
    pub: { type: 'string' },
    cert: { type: 'string' },
    in: { type: 'string' },
    sig: { type: 'string' },
    id: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(args, io) {
    const pub = optional(args, 'pub');
    const cert = optional(args, 'cert');
    if ((pub === undefined) === (cert === undefined)) throw new UsageError('give exactly one of --pub and --cert');
    const publicKey =
      pub !== undefined
        ? readPublicKeyPem(readInput(pub, '--pub').toString('utf8'))
        : readCertificates(readInput(cert!, '--cert'))[0]!.publicKey;
    const message = readInput(required(args, 'in'), '--in');
    const signature = readInput(required(args, 'sig'), '--sig');
    const valid = verify(publicKey, message, signature, optional(args, 'id'));
    const reason = valid ? undefined : 'signature does not verify under this key for this data';
    if (args.values.json) printJson(io, { valid, reason, nodeId: nodeIdOf(publicKey) });
    else io.stdout(valid ? 'valid\n' : `invalid: ${reason}\n`);
    return valid ? exitOk : exitNegative;
  },
};

export const cryptoCommands: Command[] = [signCommand, verifyCommand];
