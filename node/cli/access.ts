import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readPublicKeyPem } from '../../federation/crypto/pem.js';
import type { ClientInfo } from '../../gen/tongxing/api/v1/access.js';
import { accessClient } from '../api/access.js';
import { writeCredential, type ClientCredential } from '../access/credential.js';
import { writeOutput } from './crypto.js';
import { scopeMeanings, scopes } from '../access/scopes.js';
import { generateTlsIdentity, type TlsIdentity } from '../peer/tls.js';
import { exitOk, optional, printJson, required, UsageError, type Command, type Io, type Parsed } from './command.js';
import { answered, formatTime, nodeConnection, nodeOptions, nodeUsageLines, parseTime } from './node-client.js';

// `tongxing access`: the clients this node answers, and `tongxing audit`,
// what they did. Both call AccessService (scope operate).

function withAccess(args: Parsed, io: Io, use: (client: ReturnType<typeof accessClient>) => Promise<number>): Promise<number> {
  return answered(args, io, async () => {
    const { address, options } = nodeConnection(args);
    const client = accessClient(address, options);
    try {
      return await use(client);
    } finally {
      client.close();
    }
  });
}

function certificateDerOf(file: string): Buffer {
  try {
    return Buffer.from(new X509Certificate(readFileSync(file)).raw);
  } catch (error) {
    throw new UsageError(`--cert ${file}: not a PEM or DER certificate (${(error as Error).message})`);
  }
}

const describe = (c: ClientInfo) => {
  const state = c.revokedAtMs > 0n ? `revoked ${formatTime(Number(c.revokedAtMs))}` : c.expiresAtMs > 0n ? `until ${formatTime(Number(c.expiresAtMs))}` : 'active';
  return `${c.name.padEnd(20)} ${c.credential.padEnd(11)} ${state.padEnd(28)} ${c.scopes.join(',')}${c.approver ? ' +approver' : ''}  ${c.fingerprint.slice(0, 16)}`;
};

const infoJson = (c: ClientInfo) => ({ ...c, expiresAtMs: Number(c.expiresAtMs), createdAtMs: Number(c.createdAtMs), revokedAtMs: Number(c.revokedAtMs) });

/**
 * Writes the client's credential file and, for tools other than Tongxing's (curl, a platform's
 * HTTP library), the same as PEM files beside it: FILE.node.pem (the node's certificate, to pin),
 * FILE.cert.pem and FILE.key.pem (mode 0600).
 */
function writeClientFiles(out: string, credential: ClientCredential): string[] {
  writeCredential(out, credential);
  const files = [`${out}.node.pem`];
  writeOutput(files[0]!, credential.serverCertificate);
  if (credential.certificate !== undefined && credential.key !== undefined) {
    files.push(`${out}.cert.pem`, `${out}.key.pem`);
    writeOutput(files[1]!, credential.certificate);
    writeOutput(files[2]!, credential.key, { mode: 0o600 });
  }
  return [out, ...files];
}

/** --out hands a client its secret: with --cert it holds its own key, so there is nothing to write. Checked before the node is asked. */
function checkOut(certFile: string | undefined, out: string | undefined): void {
  if (certFile !== undefined && out !== undefined) throw new UsageError("--out with --cert: the client holds its own key; give it the node's certificate instead");
}

/**
 * Writes the client's files when --out asks (the caller's view of the node, its
 * addresses and certificate, plus the client's new key or token), and says what
 * was granted or rotated; the token is printed when `tokenNote` says why.
 */
function handOut(io: Io, args: Parsed, done: string, reply: { client?: ClientInfo; token: string }, base: ClientCredential, identity: TlsIdentity | undefined, tokenNote?: string): number {
  const out = optional(args, 'out');
  const secret = identity ? { certificate: identity.certPem, key: identity.keyPem } : { token: reply.token };
  const written = out === undefined ? [] : writeClientFiles(out, { client: reply.client!.name, grpc: base.grpc, http: base.http, serverCertificate: base.serverCertificate, ...secret });
  if (args.values.json) printJson(io, { client: infoJson(reply.client!), token: reply.token || undefined, files: written });
  else {
    io.stdout(`${done} ${describe(reply.client!)}\n`);
    if (reply.token && tokenNote) io.stdout(`token ${reply.token}\n(${tokenNote})\n`);
    if (written.length > 0) io.stdout(`credential ${written.join(' ')} (keys mode 0600)\n`);
  }
  return exitOk;
}

const grant: Command = {
  path: ['access', 'grant'],
  summary: 'register a client of this node (a trading or supervision system, a console, a person) with scopes',
  usage: [
    'NAME --scopes S1,S2 [--expires TIME] [--cert CERT.pem | --token] [--out CREDENTIAL] [--approver-key PUB.pem] [--rate N] [--note TEXT]',
    '',
    '  NAME            lowercase letters, digits, . _ -; how the audit trail names it',
    `  --scopes        comma-separated: ${scopes.join(', ')}`,
    ...scopes.map((s) => `                    ${s.padEnd(14)} ${scopeMeanings[s]}`),
    '  --expires TIME  refused from then on (2027-01-01, or 2027-01-01T08:00:00+08:00)',
    '  --cert FILE     pin the client\'s own TLS certificate (mutual TLS)',
    '  --token         a bearer token for HTTP/JSON callers that cannot do mutual TLS (printed once)',
    '  --out FILE      write a credential file for the client (mode 0600) and, for curl and other HTTP',
    '                  libraries, FILE.node.pem (the node certificate to pin), FILE.cert.pem, FILE.key.pem;',
    '                  without --cert or --token a new TLS key and certificate are made and pinned (the default)',
    '  --approver-key  SM2 public key (SPKI PEM) whose signature its governance calls must carry',
    '  --rate N        calls per second it may make (default clientCallsPerSecondDefault, docs/LIMITS.md)',
    ...nodeUsageLines,
  ].join('\n'),
  options: { ...nodeOptions, scopes: { type: 'string' }, expires: { type: 'string' }, cert: { type: 'string' }, token: { type: 'boolean' }, out: { type: 'string' }, 'approver-key': { type: 'string' }, rate: { type: 'string' }, note: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const name = args.positionals[0]!;
    const certFile = optional(args, 'cert');
    const token = args.values.token === true;
    const out = optional(args, 'out');
    if (certFile !== undefined && token) throw new UsageError('give --cert or --token, not both');
    if (certFile === undefined && !token && out === undefined) throw new UsageError('--out CREDENTIAL is needed to hand the new client its key (or pin its own with --cert, or use --token)');
    checkOut(certFile, out);
    const rate = optional(args, 'rate');
    if (rate !== undefined && !/^[1-9]\d{0,5}$/.test(rate)) throw new UsageError(`--rate must be a whole number of calls per second from 1 to 999999; got ${JSON.stringify(rate)}`);
    const expires = optional(args, 'expires');
    const approverKey = optional(args, 'approver-key');
    const identity = certFile === undefined && !token ? await generateTlsIdentity(`${name} (tongxing client)`) : undefined;
    const certificateDer = certFile !== undefined ? certificateDerOf(certFile) : identity?.certDer ?? Buffer.alloc(0);
    return withAccess(args, io, async (client) => {
      const reply = await client.grant({
        name,
        scopes: required(args, 'scopes').split(',').map((s) => s.trim()).filter(Boolean),
        expiresAtMs: expires === undefined ? 0n : BigInt(parseTime(expires, '--expires')),
        certificateDer,
        approverPublicKey: approverKey === undefined ? Buffer.alloc(0) : Buffer.from(readPublicKeyPem(readFileSync(approverKey, 'utf8'))),
        note: optional(args, 'note') ?? '',
        callsPerSecondMax: rate === undefined ? 0 : Number(rate),
      });
      return handOut(io, args, 'granted', reply, client.credential, identity, 'shown once: the node keeps only its hash');
    });
  },
};

const list: Command = {
  path: ['access', 'list'],
  summary: "list this node's clients: credential, state, scopes",
  usage: ['[--json]', '', ...nodeUsageLines].join('\n'),
  options: nodeOptions,
  async run(args, io) {
    return withAccess(args, io, async (client) => {
      const { clients } = await client.list();
      if (args.values.json) printJson(io, { clients: clients.map(infoJson) });
      else for (const c of clients) io.stdout(describe(c) + '\n');
      return exitOk;
    });
  },
};

const revoke: Command = {
  path: ['access', 'revoke'],
  summary: "revoke a client: its next call is refused",
  usage: ['NAME [--json]', '', ...nodeUsageLines].join('\n'),
  options: nodeOptions,
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    return withAccess(args, io, async (client) => {
      const reply = await client.revoke(args.positionals[0]!);
      if (args.values.json) printJson(io, { client: infoJson(reply.client!) });
      else io.stdout(`revoked ${describe(reply.client!)}\n`);
      return exitOk;
    });
  },
};

const rotate: Command = {
  path: ['access', 'rotate'],
  summary: "replace a client's credential: a new token, or a newly pinned certificate",
  usage: [
    'NAME [--cert CERT.pem | --out CREDENTIAL] [--json]',
    '',
    '  token clients get a new token (printed once, or written with --out);',
    '  certificate clients pin --cert, or get a new key and certificate in --out',
    ...nodeUsageLines,
  ].join('\n'),
  options: { ...nodeOptions, cert: { type: 'string' }, out: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const name = args.positionals[0]!;
    const certFile = optional(args, 'cert');
    const out = optional(args, 'out');
    checkOut(certFile, out);
    return withAccess(args, io, async (client) => {
      const current = (await client.list()).clients.find((c) => c.name === name);
      const identity = current?.credential === 'certificate' && certFile === undefined ? await generateTlsIdentity(`${name} (tongxing client)`) : undefined;
      if (identity && out === undefined) throw new UsageError(`${name} is a certificate client: give --cert (its new certificate) or --out (a new key and certificate for it)`);
      const reply = await client.rotate(name, certFile !== undefined ? certificateDerOf(certFile) : identity?.certDer);
      return handOut(io, args, 'rotated', reply, client.credential, identity, out === undefined ? 'shown once' : undefined);
    });
  },
};

const audit: Command = {
  path: ['audit'],
  summary: "this node's audit trail: every write and every refused call, with client and operator",
  usage: [
    '[--client NAME] [--since TIME] [--limit N] [--json]',
    '',
    '  --client NAME  only this client\'s records',
    '  --since TIME   only records from then on (2026-12-01, or 2026-12-01T08:00:00+08:00)',
    '  --limit N      at most N records (default and most: auditReadRecordsMax, docs/LIMITS.md)',
    ...nodeUsageLines,
  ].join('\n'),
  options: { ...nodeOptions, client: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } },
  async run(args, io) {
    const since = optional(args, 'since');
    const limit = optional(args, 'limit');
    if (limit !== undefined && !/^[1-9]\d{0,5}$/.test(limit)) throw new UsageError(`--limit must be a whole number from 1; got ${JSON.stringify(limit)}`);
    return withAccess(args, io, async (client) => {
      const reply = await client.audit({ client: optional(args, 'client') ?? '', sinceMs: since === undefined ? 0n : BigInt(parseTime(since, '--since')), limit: Number(limit ?? 0) });
      if (args.values.json) {
        printJson(io, { records: reply.records.map((r) => ({ ...r, atMs: Number(r.atMs) })), truncated: reply.truncated });
      } else {
        for (const r of reply.records) {
          const who = `${r.client || '(unidentified)'}${r.operator ? `/${r.operator}` : ''}`;
          io.stdout(`${formatTime(Number(r.atMs))}  ${who.padEnd(24)} ${r.method.replace('tongxing.api.v1.', '').padEnd(36)} ${r.outcome.padEnd(18)} ${r.subject}${r.detail ? `  (${r.detail})` : ''}\n`);
        }
        if (reply.truncated) io.stdout('(more records match: narrow with --since or --client)\n');
      }
      return exitOk;
    });
  },
};

export const accessCommands: Command[] = [grant, list, revoke, rotate, audit];
