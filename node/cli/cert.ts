import { CertificateError } from '../../federation/errors.js';
import { readCertificates, verifyChain, type ParsedCertificate } from '../../federation/crypto/x509.js';
import { exitNegative, exitOk, many, optional, printJson, UsageError, type Command } from './command.js';
import { readInput } from './crypto.js';

const verifyCommand: Command = {
  path: ['cert', 'verify'],
  summary: 'check an SM2 certificate chain against trusted CA certificates',
  usage: [
    '--ca CA.pem [--ca CA2.pem ...] CERT.pem [--at ISO-TIME] [--json]',
    '',
    '  --ca FILE    trusted root certificate(s), PEM or DER; repeat for more',
    '  CERT.pem     the certificate, optionally followed by its intermediates',
    '  --at TIME    check validity at this time (ISO 8601) instead of now',
    '  --json       print {valid, reason?, subject, issuer, serialNumber, notBefore, notAfter}',
    '',
    'Exit 0 valid, 1 invalid (the reason is printed), 2 unreadable or malformed input.',
  ].join('\n'),
  options: { ca: { type: 'string', multiple: true }, at: { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const caFiles = many(args, 'ca');
    if (caFiles.length === 0) throw new UsageError('--ca is required');
    const at = parseTime(optional(args, 'at'));
    // Trust roots that do not parse are bad input (exit 2), whatever the reason.
    const trustRoots = caFiles.flatMap((file) => readCertificates(readInput(file, '--ca')));
    const certFile = args.positionals[0]!;
    let leaf: ParsedCertificate | undefined;
    let outcome: { valid: true } | { valid: false; reason: string };
    try {
      const [first, ...intermediates] = readCertificates(readInput(certFile, 'CERT'));
      leaf = first!;
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

function parseTime(text: string | undefined): Date {
  if (text === undefined) return new Date();
  const at = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(at.getTime())) {
    throw new UsageError(`--at ${text} is not an ISO 8601 time such as 2025-06-01T00:00:00Z`);
  }
  return at;
}

export const certCommands: Command[] = [verifyCommand];
