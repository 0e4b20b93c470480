// The keygen, crypto and cert commands, run in-process against OpenSSL-made keys and certificates.
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { nodeIdOf, signatureFromDer, verify } from '../../federation/crypto/sm2.js';
import {
  createOpensslPki,
  leafDays,
  makeTempDir,
  openssl,
  opensslIssue,
  opensslPublicKey,
  opensslSign,
  opensslVerify,
  opensslVerifyLink,
  type IssuedCertificate,
  type OpensslPki,
} from '../../federation/crypto/testing/openssl.js';
import type { Io } from './command.js';
import { main } from './main.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  bytes: Buffer;
}

async function run(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const bytes: Uint8Array[] = [];
  const io: Io = {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    stdoutBytes: (chunk) => bytes.push(chunk),
  };
  const code = await main(argv, io);
  return { code, stdout: out.join(''), stderr: err.join(''), bytes: Buffer.concat(bytes) };
}

const dayMs = 24 * 60 * 60 * 1000;
let pki: OpensslPki;
let publicKeyFile: string;
let dataFile: string;
let opensslSignatureFile: string;
const data = Buffer.from('sanction 2025-017 lifted by city-a');

beforeAll(() => {
  pki = createOpensslPki(makeTempDir('tongxing-cli-'));
  publicKeyFile = opensslPublicKey(pki.leaf.key, pki.dir.file('leaf.pub.pem'));
  dataFile = pki.dir.write('data.bin', data);
  opensslSignatureFile = pki.dir.write('data.openssl.sig', opensslSign(pki.leaf.key, dataFile));
});
afterAll(() => pki.dir.remove());

describe('tongxing keygen', () => {
  it('writes a 0600 PKCS#8 key openssl accepts, its public key, TLS identity and gossip key, and prints the node id', async () => {
    const keyFile = pki.dir.file('node.pem');
    const result = await run('keygen', '--out', keyFile, '--json');
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { nodeId: string; privateKeyFile: string; publicKeyFile: string };
    const pair = readPrivateKeyPem(readFileSync(keyFile, 'utf8'));
    expect(printed).toEqual({
      nodeId: nodeIdOf(pair.publicKey),
      publicKey: Buffer.from(pair.publicKey).toString('hex'),
      privateKeyFile: keyFile,
      publicKeyFile: pki.dir.file('node.pub.pem'),
      tlsFile: pki.dir.file('node.tls.pem'),
      gossipKeyFile: pki.dir.file('node.p2p'),
    });
    for (const secret of [keyFile, pki.dir.file('node.tls.pem'), pki.dir.file('node.p2p')]) expect(statSync(secret).mode & 0o777).toBe(0o600);
    expect(openssl(['x509', '-in', pki.dir.file('node.tls.pem'), '-noout', '-subject']).toString()).toContain(nodeIdOf(pair.publicKey).slice(0, 16));
    expect(openssl(['pkey', '-in', keyFile, '-check', '-noout']).toString()).toMatch(/valid/);
    expect(openssl(['pkey', '-in', keyFile, '-pubout']).toString()).toBe(readFileSync(printed.publicKeyFile, 'utf8'));
  });

  it('refuses to overwrite without --force', async () => {
    const keyFile = pki.dir.file('twice.pem');
    expect((await run('keygen', '--out', keyFile)).code).toBe(0);
    const before = readFileSync(keyFile, 'utf8');
    const refused = await run('keygen', '--out', keyFile);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/exists; pass --force/);
    expect(readFileSync(keyFile, 'utf8')).toBe(before);
    const forced = await run('keygen', '--out', keyFile, '--force');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/^node id [0-9a-f]{64}\n/);
    expect(readFileSync(keyFile, 'utf8')).not.toBe(before);
  });

  it('needs --out', async () => {
    expect((await run('keygen')).code).toBe(2);
  });
});

describe('tongxing crypto sign', () => {
  it('signs with an openssl key; openssl verifies the file written', async () => {
    const signatureFile = pki.dir.file('data.ours.sig');
    const result = await run('crypto', 'sign', '--key', pki.leaf.key, '--in', dataFile, '--out', signatureFile);
    expect(result.code).toBe(0);
    expect(opensslVerify(publicKeyFile, dataFile, signatureFile)).toBe(true);
  });

  it('writes raw DER bytes to stdout without --out', async () => {
    const result = await run('crypto', 'sign', '--key', pki.leaf.key, '--in', dataFile);
    expect(result.code).toBe(0);
    expect(result.bytes[0]).toBe(0x30);
    expect(opensslVerify(publicKeyFile, dataFile, pki.dir.write('stdout.sig', result.bytes))).toBe(true);
  });

  it('exit 2 for a key that is not SM2, or a missing file', async () => {
    const p256 = await run('crypto', 'sign', '--key', pki.p256Root.key, '--in', dataFile);
    expect(p256.code).toBe(2);
    expect(p256.stderr).toMatch(/P-256/);
    const missing = await run('crypto', 'sign', '--key', pki.dir.file('nope.pem'), '--in', dataFile);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --key/);
  });
});

describe('tongxing crypto verify', () => {
  it('accepts an openssl signature with --pub and with --cert', async () => {
    expect(await run('crypto', 'verify', '--pub', publicKeyFile, '--in', dataFile, '--sig', opensslSignatureFile)).toMatchObject({
      code: 0,
      stdout: 'valid\n',
    });
    const json = await verifyData(['--cert', pki.leafChainFile], opensslSignatureFile, '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, nodeId: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('accepts a raw 64-byte r || s signature', async () => {
    const raw = pki.dir.write('data.raw.sig', signatureFromDer(readFileSync(opensslSignatureFile)));
    expect((await run('crypto', 'verify', '--pub', publicKeyFile, '--in', dataFile, '--sig', raw)).code).toBe(0);
  });

  it('exit 1 with a reason for other data or another key', async () => {
    const other = pki.dir.write('other.bin', 'sanction 2025-017 lifted by city-b');
    const tampered = await run('crypto', 'verify', '--pub', publicKeyFile, '--in', other, '--sig', opensslSignatureFile);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/^invalid: signature does not verify/);
    const wrongKey = await run('crypto', 'verify', '--cert', pki.root.cert, '--in', dataFile, '--sig', opensslSignatureFile);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toMatch(/^invalid: /);
  });

  it('exit 2 for a malformed signature or key, or bad usage', async () => {
    const short = pki.dir.write('short.sig', Buffer.alloc(63, 1));
    const malformed = await run('crypto', 'verify', '--pub', publicKeyFile, '--in', dataFile, '--sig', short);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/63/);
    const trailing = pki.dir.write('trailing.sig', Buffer.concat([readFileSync(opensslSignatureFile), Buffer.from([0])]));
    expect((await run('crypto', 'verify', '--pub', publicKeyFile, '--in', dataFile, '--sig', trailing)).code).toBe(2);
    const notPem = await run('crypto', 'verify', '--pub', dataFile, '--in', dataFile, '--sig', opensslSignatureFile);
    expect(notPem.code).toBe(2);
    expect(notPem.stderr).toMatch(/no PEM block/);
    const both = await verifyData(['--pub', publicKeyFile, '--cert', pki.leaf.cert], opensslSignatureFile);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --pub and --cert/);
  });

  it('round trips with crypto sign under a non-default ID', async () => {
    const signatureFile = pki.dir.file('id.sig');
    const signed = await run('crypto', 'sign', '--key', pki.leaf.key, '--in', dataFile, '--out', signatureFile, '--id', 'city-a');
    expect(signed.code).toBe(0);
    expect((await verifyData(['--pub', publicKeyFile], signatureFile, '--id', 'city-a')).code).toBe(0);
    expect((await verifyData(['--pub', publicKeyFile], signatureFile)).code).toBe(1);
    const pair = readPrivateKeyPem(readFileSync(pki.leaf.key, 'utf8'));
    expect(verify(pair.publicKey, data, readFileSync(signatureFile), 'city-a')).toBe(true);
  });
});

describe('tongxing cert verify', () => {
  const iso = (offsetDays: number) => new Date(Date.now() + offsetDays * dayMs).toISOString();

  it('accepts leaf + intermediate bundle against the root, with --json fields', async () => {
    const result = await run('cert', 'verify', '--ca', pki.root.cert, pki.leafChainFile, '--json');
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({
      valid: true,
      subject: 'C=CN, O=成都公共资源交易中心, CN=city-a.example',
      issuer: 'C=CN, O=Tongxing Test, CN=Test Intermediate CA',
      serialNumber: expect.stringMatching(/^[0-9a-f]+$/),
    });
    expect(printed.reason).toBeUndefined();
    const validMs = Date.parse(printed.notAfter as string) - Date.parse(printed.notBefore as string);
    expect(validMs).toBe(leafDays * dayMs);
  });

  it('takes several --ca', async () => {
    const result = await run('cert', 'verify', '--ca', pki.foreignRoot.cert, '--ca', pki.root.cert, pki.leafChainFile);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^valid\n {2}subject: C=CN/);
  });

  const invalid: [string, () => string[], RegExp][] = [
    ['expired (--at)', () => ['--ca', pki.root.cert, pki.leafChainFile, '--at', iso(leafDays + 2)], /expired at/],
    ['not yet valid (--at)', () => ['--ca', pki.root.cert, pki.leafChainFile, '--at', iso(-2)], /not yet valid/],
    ['foreign root', () => ['--ca', pki.foreignRoot.cert, pki.leafChainFile], /not signed by any trusted root/],
    ['missing intermediate', () => ['--ca', pki.root.cert, pki.leaf.cert], /not signed by any trusted root/],
    [
      'issued by a leaf',
      () => ['--ca', pki.root.cert, bundle(pki.issuedByLeaf, pki.leaf, pki.intermediate)],
      /not a CA/,
    ],
    [
      'issuer without keyCertSign',
      () => ['--ca', pki.root.cert, bundle(pki.issuedByCaWithoutKeyCertSign, pki.caWithoutKeyCertSign)],
      /lacks keyCertSign/,
    ],
  ];
  it.each(invalid)('exit 1: %s', async (_name, argv, reason) => {
    const result = await run('cert', 'verify', ...argv(), '--json');
    expect(result.code).toBe(1);
    const printed = JSON.parse(result.stdout) as { valid: boolean; reason: string; subject: string };
    expect(printed.valid).toBe(false);
    expect(printed.reason).toMatch(reason);
    expect(printed.subject).toMatch(/CN=/);
  });

  // What `cert record` refuses (RFC 5280 4.2.1.3, 4.2.1.9, 4.2.1.12), made by OpenSSL; openssl verify -purpose sslclient refuses them too.
  const misused: [string, () => IssuedCertificate, RegExp][] = [
    ['keyEncipherment only', () => opensslIssue(pki.dir, 'cli-key-encipherment', { subject: '/C=CN/CN=encipher-only', profile: 'leaf_key_encipherment', days: 30, issuer: pki.root }), /keyUsage \(keyEncipherment\) lacks digitalSignature/],
    ['critical EKU serverAuth only', () => opensslIssue(pki.dir, 'cli-server-auth', { subject: '/C=CN/CN=server-only', profile: 'leaf_server_auth', days: 30, issuer: pki.root }), /extendedKeyUsage \(serverAuth\) allows neither clientAuth/],
    ['a CA certificate', () => pki.intermediate, /is a CA certificate \(basicConstraints CA:TRUE\)/],
  ];
  it.each(misused)('exit 1 for a certificate that may not log in: %s; --purpose any checks the chain only', async (_name, issue, reason) => {
    const certificate = issue();
    expect(opensslVerifyLink(pki.root.cert, certificate.cert, { purpose: 'sslclient' })).toMatch(/unsuitable certificate purpose/);
    const refused = await run('cert', 'verify', '--ca', pki.root.cert, certificate.cert, '--json');
    expect(refused.code).toBe(1);
    expect((JSON.parse(refused.stdout) as { reason: string }).reason).toMatch(reason);
    expect((await run('cert', 'verify', '--ca', pki.root.cert, certificate.cert, '--purpose', 'any')).code).toBe(0);
  });

  it('exit 0 for a leaf with clientAuth and nonRepudiation beside digitalSignature, which openssl -purpose sslclient accepts', async () => {
    const certificate = opensslIssue(pki.dir, 'cli-client-auth', { subject: '/C=CN/CN=client', profile: 'leaf_client_auth', days: 30, issuer: pki.root });
    expect(opensslVerifyLink(pki.root.cert, certificate.cert, { purpose: 'sslclient' })).toBe('OK');
    expect((await run('cert', 'verify', '--ca', pki.root.cert, certificate.cert)).code).toBe(0);
  });

  it('exit 1 for a leaf whose key is not SM2', async () => {
    const result = await run('cert', 'verify', '--ca', pki.root.cert, pki.p256Root.cert);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^invalid: .*P-256/);
  });

  it('exit 2 for bad input', async () => {
    expect((await run('cert', 'verify', pki.leafChainFile)).code).toBe(2);
    expect((await run('cert', 'verify', '--ca', pki.root.cert, pki.leafChainFile, '--at', 'yesterday')).code).toBe(2);
    const impossible = await run('cert', 'verify', '--ca', pki.root.cert, pki.leafChainFile, '--at', '2026-02-30');
    expect(impossible.code).toBe(2);
    expect(impossible.stderr).toMatch(/--at: "2026-02-30" is not a calendar date/);
    // A time without its zone is refused rather than read in this machine's zone.
    expect((await run('cert', 'verify', '--ca', pki.root.cert, pki.leafChainFile, '--at', '2026-01-01T00:00:00')).code).toBe(2);
    expect((await run('cert', 'verify', '--ca', pki.root.cert, pki.dir.file('missing.pem'))).code).toBe(2);
    expect((await run('cert', 'verify', '--ca', pki.root.cert, dataFile)).code).toBe(2);
    expect((await run('cert', 'verify', '--ca', pki.p256Root.cert, pki.leafChainFile)).code).toBe(2);
    expect((await run('cert', 'verify', '--ca', pki.root.cert, pki.leafChainFile, '--purpose', 'server')).code).toBe(2);
  });

  it('--help prints usage and exits 0', async () => {
    const result = await run('cert', 'verify', '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/--ca CA.pem/);
  });
});

let bundles = 0;
/** A PEM file holding these certificates in order. */
function bundle(...certificates: IssuedCertificate[]): string {
  const pem = Buffer.concat(certificates.map(({ cert }) => readFileSync(cert)));
  return pki.dir.write(`bundle-${bundles++}.pem`, pem);
}

/** `crypto verify` of the shared data file with this key option and signature. */
function verifyData(keyOption: string[], signatureFile: string, ...extra: string[]): Promise<Run> {
  return run('crypto', 'verify', ...keyOption, '--in', dataFile, '--sig', signatureFile, ...extra);
}
