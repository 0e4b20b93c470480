// Test support: the OpenSSL 3 CLI as an independent SM2 implementation. Makes keys,
// signatures and a small PKI in a temp dir. Tests only; spawns processes and writes files.
//
// OpenSSL 3.0 needs the distinguishing ID spelled out everywhere: `-sigopt distid:` when
// signing and `-vfyopt distid:` when x509 -req checks the CSR's self-signature; without
// them it uses an empty ID that nothing else interoperates with.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDistinguishingId } from '../sm2.js';

const distid = `distid:${defaultDistinguishingId}`;

export interface TempDir {
  path: string;
  file(name: string): string;
  write(name: string, content: string | Uint8Array): string;
  read(name: string): Buffer;
  remove(): void;
}

export function makeTempDir(prefix = 'tongxing-openssl-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    write: (name, content) => {
      writeFileSync(join(path, name), content);
      return join(path, name);
    },
    read: (name) => readFileSync(join(path, name)),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** Runs `openssl args...`; throws with its stderr on a non-zero exit. */
export function openssl(args: string[], cwd?: string): Buffer {
  try {
    return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr}`);
  }
}

/** `openssl genpkey -algorithm SM2` into `keyFile`; returns the path. */
export function opensslGenerateKey(keyFile: string): string {
  openssl(['genpkey', '-algorithm', 'SM2', '-out', keyFile]);
  return keyFile;
}

export function opensslPublicKey(keyFile: string, publicKeyFile: string): string {
  openssl(['pkey', '-in', keyFile, '-pubout', '-out', publicKeyFile]);
  return publicKeyFile;
}

/** DER signature of the file's bytes under the default ID. */
export function opensslSign(keyFile: string, dataFile: string): Buffer {
  return openssl(['pkeyutl', '-sign', '-rawin', '-digest', 'sm3', '-pkeyopt', distid, '-inkey', keyFile, '-in', dataFile]);
}

/** Whether OpenSSL accepts the signature; `publicKeyFile` is SPKI PEM. */
export function opensslVerify(publicKeyFile: string, dataFile: string, signatureFile: string): boolean {
  try {
    openssl([
      'pkeyutl', '-verify', '-rawin', '-digest', 'sm3', '-pkeyopt', distid,
      '-pubin', '-inkey', publicKeyFile, '-in', dataFile, '-sigfile', signatureFile,
    ]);
    return true;
  } catch {
    return false;
  }
}

export interface IssuedCertificate {
  key: string;
  cert: string;
  keyAlgorithm: KeyAlgorithm;
}

export type KeyAlgorithm = 'SM2' | 'P-256';

/** Extension sections for `openssl x509 -extfile`. */
const extensions = `
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ca_path_length_0]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
[ca_without_key_cert_sign]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
[leaf_key_encipherment]
basicConstraints = critical, CA:FALSE
keyUsage = critical, keyEncipherment
[leaf_server_auth]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, serverAuth
[leaf_client_auth]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = clientAuth
`;

export interface IssueOptions {
  /** OpenSSL -subj form, e.g. "/C=CN/O=Example/CN=city-a". */
  subject: string;
  /** `leaf_key_encipherment` and `leaf_server_auth` may not log in (RFC 5280 4.2.1.3, 4.2.1.12). */
  profile: 'ca' | 'ca_path_length_0' | 'ca_without_key_cert_sign' | 'leaf' | 'leaf_key_encipherment' | 'leaf_server_auth' | 'leaf_client_auth';
  days: number;
  /** Self-signed when absent. */
  issuer?: IssuedCertificate;
  keyAlgorithm?: KeyAlgorithm;
}

/** The options that make OpenSSL 3.0 sign with a key of this algorithm. */
function signingOptions(keyAlgorithm: KeyAlgorithm): string[] {
  return keyAlgorithm === 'SM2' ? ['-sm3', '-sigopt', distid] : ['-sha256'];
}

/**
 * Key and certificate `name`.key/.pem in `dir`. Validity starts now (OpenSSL 3.0 cannot
 * backdate); tests move the clock with `at` instead.
 */
export function opensslIssue(dir: TempDir, name: string, options: IssueOptions): IssuedCertificate {
  const keyAlgorithm = options.keyAlgorithm ?? 'SM2';
  const key = dir.file(`${name}.key`);
  if (keyAlgorithm === 'SM2') opensslGenerateKey(key);
  else openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  const csr = dir.file(`${name}.csr`);
  const cert = dir.file(`${name}.pem`);
  const extfile = dir.write('extensions.cnf', extensions);
  // -utf8: without it `req` takes -subj as Latin-1 and double-encodes Chinese names.
  openssl(['req', '-new', '-utf8', '-key', key, ...signingOptions(keyAlgorithm), '-subj', options.subject, '-out', csr]);
  const { issuer } = options;
  const signer = issuer
    ? ['-CA', issuer.cert, '-CAkey', issuer.key, '-CAcreateserial', '-CAserial', dir.file(`${name}.srl`)]
    : ['-signkey', key];
  openssl([
    'x509', '-req', '-in', csr, ...signer, ...signingOptions(issuer?.keyAlgorithm ?? keyAlgorithm),
    ...(keyAlgorithm === 'SM2' ? ['-vfyopt', distid] : []),
    '-extfile', extfile, '-extensions', options.profile, '-days', String(options.days), '-out', cert,
  ]);
  return { key, cert, keyAlgorithm };
}

export interface OpensslPki {
  dir: TempDir;
  root: IssuedCertificate;
  intermediate: IssuedCertificate;
  /** Valid for `leafDays` from now, issued by the intermediate. */
  leaf: IssuedCertificate;
  /** Leaf followed by the intermediate, as a server would present them. */
  leafChainFile: string;
  /** A root nobody trusts, and a leaf it issued. */
  foreignRoot: IssuedCertificate;
  foreignLeaf: IssuedCertificate;
  /** Same subject as `root`, another key. */
  impostorRoot: IssuedCertificate;
  /** Issued by `leaf`, which is not a CA. */
  issuedByLeaf: IssuedCertificate;
  /** CA:TRUE but keyUsage without keyCertSign, issued by the root; and a leaf it issued. */
  caWithoutKeyCertSign: IssuedCertificate;
  issuedByCaWithoutKeyCertSign: IssuedCertificate;
  /** root -> pathLenConstraint 0 CA -> CA -> leaf: one CA too many. */
  pathLength0Ca: IssuedCertificate;
  belowPathLength0Ca: IssuedCertificate;
  tooDeepLeaf: IssuedCertificate;
  /** A P-256 CA and an SM2-keyed leaf it signed with ecdsa-with-SHA256. */
  p256Root: IssuedCertificate;
  ecdsaSignedLeaf: IssuedCertificate;
}

export const leafDays = 30;
const rootSubject = '/C=CN/O=Tongxing Test/CN=Test Root CA';

/** A three-level SM2 PKI plus broken variants: ~45 openssl runs, one or two seconds. */
export function createOpensslPki(dir: TempDir): OpensslPki {
  const root = opensslIssue(dir, 'root', { subject: rootSubject, profile: 'ca', days: 3650 });
  const intermediate = opensslIssue(dir, 'intermediate', {
    subject: '/C=CN/O=Tongxing Test/CN=Test Intermediate CA', profile: 'ca', days: 1825, issuer: root,
  });
  const leaf = opensslIssue(dir, 'leaf', {
    subject: '/C=CN/O=成都公共资源交易中心/CN=city-a.example', profile: 'leaf', days: leafDays, issuer: intermediate,
  });
  const leafChainFile = dir.write('leaf-chain.pem', Buffer.concat([readFileSync(leaf.cert), readFileSync(intermediate.cert)]));
  const foreignRoot = opensslIssue(dir, 'foreign-root', { subject: '/C=CN/O=Elsewhere/CN=Other Root CA', profile: 'ca', days: 3650 });
  const foreignLeaf = opensslIssue(dir, 'foreign-leaf', {
    subject: '/C=CN/O=Elsewhere/CN=intruder', profile: 'leaf', days: leafDays, issuer: foreignRoot,
  });
  const impostorRoot = opensslIssue(dir, 'impostor-root', { subject: rootSubject, profile: 'ca', days: 3650 });
  const issuedByLeaf = opensslIssue(dir, 'issued-by-leaf', {
    subject: '/C=CN/O=Tongxing Test/CN=sub-leaf', profile: 'leaf', days: leafDays, issuer: leaf,
  });
  const caWithoutKeyCertSign = opensslIssue(dir, 'ca-no-keycertsign', {
    subject: '/C=CN/O=Tongxing Test/CN=Signing-only CA', profile: 'ca_without_key_cert_sign', days: 1825, issuer: root,
  });
  const issuedByCaWithoutKeyCertSign = opensslIssue(dir, 'issued-by-ca-no-keycertsign', {
    subject: '/C=CN/O=Tongxing Test/CN=orphan', profile: 'leaf', days: leafDays, issuer: caWithoutKeyCertSign,
  });
  const pathLength0Ca = opensslIssue(dir, 'pathlen0-ca', {
    subject: '/C=CN/O=Tongxing Test/CN=Path Length 0 CA', profile: 'ca_path_length_0', days: 1825, issuer: root,
  });
  const belowPathLength0Ca = opensslIssue(dir, 'below-pathlen0-ca', {
    subject: '/C=CN/O=Tongxing Test/CN=Too Deep CA', profile: 'ca', days: 1825, issuer: pathLength0Ca,
  });
  const tooDeepLeaf = opensslIssue(dir, 'too-deep-leaf', {
    subject: '/C=CN/O=Tongxing Test/CN=too-deep', profile: 'leaf', days: leafDays, issuer: belowPathLength0Ca,
  });
  const p256Root = opensslIssue(dir, 'p256-root', {
    subject: '/C=CN/O=Elsewhere/CN=P-256 Root CA', profile: 'ca', days: 3650, keyAlgorithm: 'P-256',
  });
  const ecdsaSignedLeaf = opensslIssue(dir, 'ecdsa-signed-leaf', {
    subject: '/C=CN/O=Elsewhere/CN=ecdsa-signed', profile: 'leaf', days: leafDays, issuer: p256Root,
  });
  return {
    dir, root, intermediate, leaf, leafChainFile, foreignRoot, foreignLeaf, impostorRoot, issuedByLeaf,
    caWithoutKeyCertSign, issuedByCaWithoutKeyCertSign, pathLength0Ca, belowPathLength0Ca, tooDeepLeaf,
    p256Root, ecdsaSignedLeaf,
  };
}

/**
 * OpenSSL's own check of one link. OpenSSL 3.0 applies `-vfyopt distid:` only to the
 * certificate being verified, so a whole SM2 chain fails at depth 1 (error 7); checking
 * link by link with -partial_chain works.
 */
export function opensslVerifiesLink(issuerCert: string, cert: string): boolean {
  return opensslVerifyLink(issuerCert, cert) === 'OK';
}

export interface LinkCheck {
  /** `-purpose`, e.g. 'sslclient' (what a TLS client certificate may do). */
  purpose?: string;
  /** `-attime`: check at this time instead of now. */
  atMs?: number;
}

/** 'OK', or OpenSSL's error line (e.g. "error 26 at 0 depth lookup: unsuitable certificate purpose"). */
export function opensslVerifyLink(issuerCert: string, cert: string, check: LinkCheck = {}): string {
  const extra = [
    ...(check.purpose === undefined ? [] : ['-purpose', check.purpose]),
    ...(check.atMs === undefined ? [] : ['-attime', String(Math.floor(check.atMs / 1000))]),
  ];
  try {
    openssl(['verify', '-vfyopt', distid, '-partial_chain', ...extra, '-CAfile', issuerCert, cert]);
    return 'OK';
  } catch (error) {
    const line = /error \d+ at \d+ depth lookup: .*/.exec((error as Error).message);
    return line?.[0] ?? (error as Error).message;
  }
}
