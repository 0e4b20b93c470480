import { Verdict } from '../../gen/tongxing/api/v1/api.js';
import { LoginOutcome, type CertificateHolder, type CertificateSummary } from '../../gen/tongxing/api/v1/certificates.js';
import { RevocationReason } from '../../gen/tongxing/records/v1/records.js';
import { serialNumberKey } from '../../federation/certificates.js';
import { parseCrl } from '../../federation/crypto/crl.js';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { sign } from '../../federation/crypto/sm2.js';
import { CertificateError, TongxingError } from '../../federation/errors.js';
import { checkLoginUsage, readCertificates, verifyChain, type ParsedCertificate } from '../../federation/crypto/x509.js';
import { ApiError } from '../api/client.js';
import { withDomainApi, type DomainClient } from '../api/domain-client.js';
import { exitNegative, exitOk, many, optional, printJson, UsageError, type Command, type Io, type Options, type Parsed } from './command.js';
import { readInput } from './crypto.js';
import { describeProvenance, provenanceJson } from './entity.js';
import { answered, hex, nodeConnection, nodeOptions, nodeUsageLines, parseTime as parseNodeTime } from './node-client.js';

const verifyCommand: Command = {
  path: ['cert', 'verify'],
  summary: 'check an SM2 certificate chain against trusted CA certificates',
  usage: [
    '--ca CA.pem [--ca CA2.pem ...] CERT.pem [--at ISO-TIME] [--purpose login|any] [--json]',
    '',
    '  --ca FILE        trusted root certificate(s), PEM or DER; repeat for more',
    '  CERT.pem         the certificate, optionally followed by its intermediates',
    '  --at TIME        check validity at this time instead of now: 2025-06-01 (00:00 +08:00) or an',
    '                   ISO 8601 time with its zone (2025-06-01T14:30:00+08:00, ...Z)',
    '  --purpose login  (default) also check that it may log in, as `cert record` does: not a CA,',
    '                   keyUsage digitalSignature, extendedKeyUsage clientAuth (like openssl -purpose sslclient)',
    '  --purpose any    check the chain only',
    '  --json           print {valid, reason?, subject, issuer, serialNumber, notBefore, notAfter}',
    '',
    'A certificate valid here at a time is what `cert record` accepts at that time (a certificate',
    'not yet valid is not recorded). Exit 0 valid, 1 invalid (the reason is printed), 2 unreadable',
    'or malformed input.',
  ].join('\n'),
  options: { ca: { type: 'string', multiple: true }, at: { type: 'string' }, purpose: { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const caFiles = many(args, 'ca');
    if (caFiles.length === 0) throw new UsageError('--ca is required');
    const at = parseTime(optional(args, 'at'));
    const purpose = optional(args, 'purpose') ?? 'login';
    if (purpose !== 'login' && purpose !== 'any') throw new UsageError(`--purpose must be login or any, not ${purpose}`);
    // Trust roots that do not parse are bad input (exit 2), whatever the reason.
    const trustRoots = caFiles.flatMap((file) => readCertificates(readInput(file, '--ca')));
    const certFile = args.positionals[0]!;
    let leaf: ParsedCertificate | undefined;
    let outcome: { valid: true } | { valid: false; reason: string };
    try {
      const [first, ...intermediates] = readCertificates(readInput(certFile, 'CERT'));
      leaf = first!;
      if (purpose === 'login') checkLoginUsage(leaf);
      verifyChain(leaf, intermediates, trustRoots, at);
      outcome = { valid: true };
    } catch (error) {
      if (!(error instanceof CertificateError)) throw error;
      outcome = { valid: false, reason: error.message };
    }
    const fields = leaf && {
      subject: leaf.subject,
      issuer: leaf.issuer,
      serialNumber: leaf.serialNumber,
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
    };
    if (args.values.json) {
      printJson(io, { ...outcome, ...fields });
    } else {
      const lines = [outcome.valid ? 'valid' : `invalid: ${outcome.reason}`];
      if (fields) for (const [name, value] of Object.entries(fields)) lines.push(`  ${name}: ${value}`);
      io.stdout(lines.join('\n') + '\n');
    }
    return outcome.valid ? exitOk : exitNegative;
  },
};

/** --at as every command reads times (a date is 00:00 China Standard Time); now when absent. */
function parseTime(text: string | undefined): Date {
  return text === undefined ? new Date() : new Date(parseNodeTime(text, '--at'));
}

// ---- the node's certificate service (一锁通行) ----

/**
 * Calls the certificate, alert and transfer services of the node named by
 * --node (or --api); a failed call ends as every command's does (answered).
 */
export async function callDomain(args: Parsed, io: Io, use: (api: DomainClient) => Promise<number>): Promise<number> {
  if (typeof args.values.api === 'string') {
    if (typeof args.values.node === 'string') throw new UsageError('give --node or --api, not both (they are the same)');
    args.values.node = args.values.api;
  }
  return answered(args, io, () => {
    const { address, options } = nodeConnection(args);
    return withDomainApi(address, use, options);
  });
}

const domainOptions: Options = { ...nodeOptions, api: { type: 'string' } };

/** DER of every certificate in a PEM or DER file (leaf first when it is a chain). */
export function certificatesIn(file: string, option: string): ParsedCertificate[] {
  try {
    return readCertificates(readInput(file, option));
  } catch (error) {
    if (error instanceof CertificateError) throw new TongxingError(`${option} ${file}: certificate not SM2: ${error.message}`);
    throw error;
  }
}

export const outcomeNames: Record<number, string> = {
  [LoginOutcome.LOGIN_OUTCOME_VALID]: 'valid',
  [LoginOutcome.LOGIN_OUTCOME_CHALLENGE_UNKNOWN]: 'challenge-unknown',
  [LoginOutcome.LOGIN_OUTCOME_CHALLENGE_USED]: 'challenge-used',
  [LoginOutcome.LOGIN_OUTCOME_CHALLENGE_EXPIRED]: 'challenge-expired',
  [LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_RECORDED]: 'not-recorded',
  [LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_EXPIRED]: 'expired',
  [LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_NOT_YET_VALID]: 'not-yet-valid',
  [LoginOutcome.LOGIN_OUTCOME_CERTIFICATE_REVOKED]: 'revoked',
  [LoginOutcome.LOGIN_OUTCOME_UNTRUSTED_CA]: 'untrusted-ca',
  [LoginOutcome.LOGIN_OUTCOME_WRONG_SIGNATURE]: 'wrong-signature',
};

const revocationReasons = {
  'key-compromise': RevocationReason.REVOCATION_REASON_KEY_COMPROMISE,
  superseded: RevocationReason.REVOCATION_REASON_SUPERSEDED,
  cessation: RevocationReason.REVOCATION_REASON_CESSATION,
  'ca-notice': RevocationReason.REVOCATION_REASON_CA_NOTICE,
} as const;

function holderText(holder: CertificateHolder | undefined): string {
  const id = holder?.id;
  if (!id) return 'unknown';
  if (id.$case === 'expertRef') return `expert ${id.value}`;
  return `entity ${id.value}${holder!.name ? ` (${holder!.name})` : ' (not registered at any member this node has heard from)'}`;
}

function summaryJson(summary: CertificateSummary | undefined): object | null {
  if (!summary) return null;
  return {
    serialNumber: summary.serialNumber,
    issuerNameHash: summary.issuerNameHash,
    subject: summary.subject,
    issuer: summary.issuer,
    rootCa: summary.rootCa,
    notBefore: new Date(Number(summary.notBeforeMs)).toISOString(),
    notAfter: new Date(Number(summary.notAfterMs)).toISOString(),
  };
}

function holderJson(holder: CertificateHolder | undefined): object | null {
  const id = holder?.id;
  if (!id) return null;
  return id.$case === 'entityUscc' ? { uscc: id.value, name: holder!.name } : { expertRef: id.value };
}

/** A certificate named by file, or by --serial and --issuer-hash. */
function certificateRefOf(args: Parsed): { certificateDer?: Buffer; issuerNameHash?: string; serialNumber?: string } {
  const file = args.positionals[0];
  const serial = optional(args, 'serial');
  const issuerHash = optional(args, 'issuer-hash');
  if (file !== undefined) {
    if (serial !== undefined || issuerHash !== undefined) throw new UsageError('give CERT.pem or --serial with --issuer-hash, not both');
    return { certificateDer: Buffer.from(certificatesIn(file, 'CERT')[0]!.der) };
  }
  if (serial === undefined || issuerHash === undefined) throw new UsageError('give CERT.pem, or --serial HEX with --issuer-hash HEX');
  return { serialNumber: serial.toLowerCase().replace(/^0+(?=.)/, ''), issuerNameHash: issuerHash.toLowerCase() };
}

const refUsageLines = [
  '  CERT.pem            the certificate (PEM or DER); or name it by:',
  '  --serial HEX        its serial number, and',
  '  --issuer-hash HEX   SM3 of its issuer name (as `tongxing cert show` prints)',
];

const record: Command = {
  path: ['cert', 'record'],
  summary: 'Record an SM2 certificate for an entity or expert, so it logs in at every member (一锁通行)',
  usage: [
    'CERT.pem (--uscc CODE | --expert REF) [--chain CA.pem ...] [--node HOST:PORT] [--json]',
    '',
    '  CERT.pem        the certificate, optionally followed by its intermediate CA certificates (PEM or DER)',
    '  --uscc CODE     the entity it belongs to (unified social credit code)',
    '  --expert REF    or the expert (pseudonymous reference)',
    '  --chain FILE    more intermediate CA certificates; repeat for more',
    ...nodeUsageLines,
    '',
    'The certificate must be SM2, allowed to log in (not a CA; keyUsage digitalSignature and',
    'extendedKeyUsage clientAuth when present) and, now, valid and chained to a CA root the alliance',
    'trusts: what `tongxing cert verify` answers now. Exit: 0 recorded, 1 refused (recorded already for',
    'another holder, or revoked), 2 bad input (not SM2, not for logins, not yet valid, untrusted CA, ...).',
  ].join('\n'),
  options: { ...domainOptions, uscc: { type: 'string' }, expert: { type: 'string' }, chain: { type: 'string', multiple: true } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const uscc = optional(args, 'uscc');
    const expert = optional(args, 'expert');
    if ((uscc === undefined) === (expert === undefined)) throw new UsageError('give exactly one of --uscc and --expert');
    const [leaf, ...intermediates] = certificatesIn(args.positionals[0]!, 'CERT');
    const chain = [...intermediates, ...many(args, 'chain').flatMap((file) => certificatesIn(file, '--chain'))];
    return callDomain(args, io, async (api) => {
      const reply = await api.recordCertificate({
        certificateDer: Buffer.from(leaf!.der),
        holder: uscc !== undefined ? { $case: 'entityUscc', value: uscc } : { $case: 'expertRef', value: expert! },
        usccOverride: undefined,
        intermediatesDer: chain.map((c) => Buffer.from(c.der)),
      });
      if (args.values.json) {
        printJson(io, { provenance: provenanceJson(reply.provenance), certificate: summaryJson(reply.certificate) });
      } else {
        const c = reply.certificate!;
        io.stdout(
          `recorded certificate ${c.serialNumber} ("${c.subject}") for ${uscc !== undefined ? `entity ${uscc}` : `expert ${expert}`} at ${describeProvenance(reply.provenance!)}\n` +
            `  issued by "${c.issuer}", root CA "${c.rootCa}"; valid ${new Date(Number(c.notBeforeMs)).toISOString()} to ${new Date(Number(c.notAfterMs)).toISOString()}\n` +
            `  issuer hash ${c.issuerNameHash}\n`,
        );
      }
      return exitOk;
    });
  },
};

const revoke: Command = {
  path: ['cert', 'revoke'],
  summary: 'Revoke a certificate alliance-wide (this member\'s word; see import-crl for a CA\'s)',
  usage: [
    '(CERT.pem | --serial HEX --issuer-hash HEX) [--reason REASON] [--at TIME] [--node HOST:PORT] [--json]',
    '',
    ...refUsageLines,
    '  --reason REASON     key-compromise, superseded, cessation or ca-notice (default key-compromise)',
    '  --at TIME           revoked from (default now); 2025-03-01 (00:00 +08:00) or an ISO time with its zone',
    ...nodeUsageLines,
  ].join('\n'),
  options: { ...domainOptions, serial: { type: 'string' }, 'issuer-hash': { type: 'string' }, reason: { type: 'string' }, at: { type: 'string' } },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const ref = certificateRefOf(args);
    let serialNumber = ref.serialNumber;
    let issuerNameHash = ref.issuerNameHash;
    if (ref.certificateDer) {
      const parsed = readCertificates(ref.certificateDer)[0]!;
      serialNumber = serialNumberKey(parsed.serialNumber);
      issuerNameHash = parsed.issuerNameHash;
    }
    const reasonName = optional(args, 'reason') ?? 'key-compromise';
    if (!(reasonName in revocationReasons)) throw new UsageError(`--reason must be one of ${Object.keys(revocationReasons).join(', ')}`);
    const at = optional(args, 'at');
    return callDomain(args, io, async (api) => {
      const reply = await api.revokeCertificate({
        serialNumber: serialNumber!,
        issuerNameHash: issuerNameHash!,
        revokedAtMs: at === undefined ? 0n : BigInt(parseNodeTime(at, '--at')),
        reason: revocationReasons[reasonName as keyof typeof revocationReasons],
        crlDer: Buffer.alloc(0),
      });
      if (args.values.json) printJson(io, { serialNumber, issuerNameHash, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`revoked certificate ${serialNumber} (${reasonName}) at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

const importCrl: Command = {
  path: ['cert', 'import-crl'],
  summary: 'Import a CA-signed CRL: every certificate it lists is revoked at every member',
  usage: [
    'CRL.pem [--chain CA.pem ...] [--node HOST:PORT] [--json]',
    '',
    '  CRL.pem       the CRL (PEM "X509 CRL" or DER), signed SM2-with-SM3 by the CA',
    '  --chain FILE  the CA certificate that signed it and any CAs up to a trusted root (not needed',
    '                when a trusted root signed it); repeat for more',
    ...nodeUsageLines,
  ].join('\n'),
  options: { ...domainOptions, chain: { type: 'string', multiple: true } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const crl = parseCrl(readInput(args.positionals[0]!, 'CRL'));
    const chain = many(args, 'chain').flatMap((file) => certificatesIn(file, '--chain'));
    return callDomain(args, io, async (api) => {
      const reply = await api.importCrl({ crlDer: Buffer.from(crl.der), issuerChainDer: chain.map((c) => Buffer.from(c.der)) });
      if (args.values.json) printJson(io, { issuer: reply.issuer, revoked: reply.revoked, provenance: provenanceJson(reply.provenance) });
      else io.stdout(`imported the CRL of "${reply.issuer}": ${reply.revoked} certificate(s) revoked, at ${describeProvenance(reply.provenance!)}\n`);
      return exitOk;
    });
  },
};

const show: Command = {
  path: ['cert', 'show'],
  summary: 'Show a recorded certificate: holder, CA, revocations and whether it would log in now',
  usage: ['(CERT.pem | --serial HEX --issuer-hash HEX) [--at TIME] [--node HOST:PORT] [--json]', '', ...refUsageLines, '  --at TIME           status at this time (default now)', ...nodeUsageLines, '', 'Exit: 0 valid, 1 not (the reason is printed), 2 bad input.'].join('\n'),
  options: { ...domainOptions, serial: { type: 'string' }, 'issuer-hash': { type: 'string' }, at: { type: 'string' } },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const ref = certificateRefOf(args);
    const at = optional(args, 'at');
    return callDomain(args, io, async (api) => {
      const reply = await api.getCertificate({ ...ref, atMs: at === undefined ? 0n : BigInt(parseNodeTime(at, '--at')) });
      const status = outcomeNames[reply.status] ?? 'unspecified';
      if (args.values.json) {
        printJson(io, {
          found: reply.found,
          status,
          detail: reply.statusDetail,
          certificate: summaryJson(reply.certificate),
          holder: holderJson(reply.holder),
          recorded: provenanceJson(reply.recorded),
          revocations: reply.revocations.map((r) => ({ revokedAt: new Date(Number(r.revokedAtMs)).toISOString(), fromCrl: r.fromCrl, provenance: provenanceJson(r.provenance) })),
        });
      } else {
        const lines = [`${status}: ${reply.statusDetail}`];
        if (reply.certificate) {
          const c = reply.certificate;
          lines.push(`  subject: ${c.subject}`, `  holder: ${holderText(reply.holder)}`, `  CA: "${c.issuer}", root "${c.rootCa}"`);
          lines.push(`  serial ${c.serialNumber}, issuer hash ${c.issuerNameHash}`, `  recorded at ${describeProvenance(reply.recorded!)}`);
        }
        for (const r of reply.revocations) {
          const source = r.fromCrl ? 'a CA-signed CRL' : "a member's word";
          lines.push(`  revoked from ${new Date(Number(r.revokedAtMs)).toISOString()} (${source}), recorded at ${describeProvenance(r.provenance!)}`);
        }
        io.stdout(lines.join('\n') + '\n');
      }
      return reply.status === LoginOutcome.LOGIN_OUTCOME_VALID ? exitOk : exitNegative;
    });
  },
};

const challengeCommand: Command = {
  path: ['cert', 'challenge'],
  summary: 'Ask the node for a login challenge (32 random bytes, short-lived, single use)',
  usage: ['[--node HOST:PORT] [--json]', '', ...nodeUsageLines, '', 'Prints the challenge in hex; the USB key signs exactly those bytes (SM2, default ID).'].join('\n'),
  options: domainOptions,
  async run(args, io) {
    return callDomain(args, io, async (api) => {
      const reply = await api.issueChallenge();
      if (args.values.json) printJson(io, { challenge: hex(reply.challenge), expiresAt: new Date(Number(reply.expiresAtMs)).toISOString() });
      else io.stdout(`${hex(reply.challenge)}\n`);
      return exitOk;
    });
  },
};

const loginCommand: Command = {
  path: ['cert', 'login'],
  summary: 'Log in with a certificate at this node: challenge, SM2 signature, verdict, sanctions',
  usage: [
    '(CERT.pem | --serial HEX --issuer-hash HEX) (--key KEY.pem | --challenge HEX --signature FILE) [--node HOST:PORT] [--json]',
    '',
    ...refUsageLines,
    '  --key KEY.pem       the certificate\'s private key (PKCS#8 PEM): asks for a challenge and signs it,',
    '                      as a USB key would',
    '  --challenge HEX     or: a challenge from `tongxing cert challenge`, and',
    '  --signature FILE    the SM2 signature of its bytes (DER or raw 64-byte r||s), e.g. made with',
    '                      openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt distid:1234567812345678',
    ...nodeUsageLines,
    '',
    'Exit: 0 valid and no active sanction, 1 refused (the reason is printed) or sanctioned, 2 bad input.',
  ].join('\n'),
  options: { ...domainOptions, serial: { type: 'string' }, 'issuer-hash': { type: 'string' }, key: { type: 'string' }, challenge: { type: 'string' }, signature: { type: 'string' } },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const ref = certificateRefOf(args);
    const keyFile = optional(args, 'key');
    const challengeHex = optional(args, 'challenge');
    const signatureFile = optional(args, 'signature');
    if ((keyFile === undefined) === (challengeHex === undefined && signatureFile === undefined)) throw new UsageError('give --key, or --challenge with --signature');
    if (keyFile === undefined && (challengeHex === undefined || signatureFile === undefined)) throw new UsageError('--challenge and --signature go together');
    if (challengeHex !== undefined && !/^([0-9a-fA-F]{2})+$/.test(challengeHex)) throw new UsageError('--challenge must be hex');
    const keyPair = keyFile === undefined ? undefined : readPrivateKeyPem(readInput(keyFile, '--key').toString('utf8'));
    const givenSignature = signatureFile === undefined ? undefined : readInput(signatureFile, '--signature');
    return callDomain(args, io, async (api) => {
      const challenge = challengeHex !== undefined ? Buffer.from(challengeHex, 'hex') : (await api.issueChallenge()).challenge;
      const signature = givenSignature ?? sign(keyPair!.privateKey, challenge, keyPair!.publicKey);
      const reply = await api.verifyLogin({ challenge, signature, ...ref });
      const outcome = outcomeNames[reply.outcome] ?? 'unspecified';
      const verdict = reply.sanctions?.verdict;
      if (args.values.json) {
        printJson(io, {
          valid: reply.valid,
          outcome,
          detail: reply.detail,
          holder: holderJson(reply.holder),
          certificate: summaryJson(reply.certificate),
          recorded: provenanceJson(reply.recorded),
          sanctions: reply.sanctions ? { verdict: verdictNames[reply.sanctions.verdict] ?? 'unspecified', count: reply.sanctions.sanctions.length } : null,
          watch: reply.watch.map((w) => ({ sanctionId: w.sanction!.sanctionId, issuerCity: w.issued!.authorCity })),
          alerts: reply.alerts.map(provenanceJson),
        });
      } else if (!reply.valid) {
        io.stdout(`refused (${outcome}): ${reply.detail}\n` + (reply.holder ? `  certificate of ${holderText(reply.holder)}\n` : ''));
      } else {
        const c = reply.certificate!;
        const lines = [`valid: ${holderText(reply.holder)}`, `  certificate "${c.subject}", CA "${c.issuer}", root "${c.rootCa}"`, `  recorded at ${describeProvenance(reply.recorded!)}`];
        const active = reply.sanctions!.sanctions;
        if (verdict === Verdict.VERDICT_RESTRICTED) {
          lines.push(`  RESTRICTED: ${active.length} active sanction(s):`);
          for (const s of active) lines.push(`    - ${s.issued!.authorCity}: ${s.sanction!.sanctionId} (${s.sanction!.grounds})`);
        } else if (verdict === Verdict.VERDICT_UNKNOWN_STALE) {
          lines.push('  sanctions UNKNOWN: some member\'s data is older than the freshness budget (see `tongxing sanction check`)');
        } else {
          lines.push('  no active sanction at any member');
        }
        if (reply.watch.length > 0) lines.push(`  on the watch list of ${reply.watch.map((w) => w.issued!.authorCity).join(', ')}: they were alerted`);
        io.stdout(lines.join('\n') + '\n');
      }
      return reply.valid && verdict === Verdict.VERDICT_CLEAR ? exitOk : exitNegative;
    });
  },
};

const verdictNames: Record<number, string> = {
  [Verdict.VERDICT_CLEAR]: 'clear',
  [Verdict.VERDICT_RESTRICTED]: 'restricted',
  [Verdict.VERDICT_UNKNOWN_STALE]: 'unknown-stale',
};

export const certCommands: Command[] = [verifyCommand, record, revoke, importCrl, show, challengeCommand, loginCommand];
