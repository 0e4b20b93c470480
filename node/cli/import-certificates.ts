import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { ExportedCertificate, ExportedCrl, ImportItem } from '../../gen/tongxing/api/v1/transfer.js';
import type { CertificateRecord, UsccOverride } from '../../gen/tongxing/records/v1/records.js';
import { serialNumberKey } from '../../federation/certificates.js';
import { parseCrl } from '../../federation/crypto/crl.js';
import { pemBlocks, toPem } from '../../federation/crypto/pem.js';
import { sm3Hex } from '../../federation/crypto/sm3.js';
import { caUsageOf, readCertificates, type ParsedCertificate } from '../../federation/crypto/x509.js';
import { EncodingError, TongxingError, ValidationError } from '../../federation/errors.js';
import { chainCertificatesMax } from '../../federation/limits.js';
import { rowsOf, type DataSpecRow } from '../../federation/records/dataspec.js';
import { UsageError } from './command.js';
import { text } from './dataspec-fields.js';
import { readInput, writeOutput } from './crypto.js';

// `tongxing import|export certificates`: a folder of certificate files (.pem,
// .cer, .crt, .der, PEM bundles; CA certificates and CRLs among them) or one
// PEM bundle, and a manifest naming each certificate's holder in the
// data-specification vocabulary (docs/IMPORTS.md). Each leaf's chain is built
// from the CA certificates given (up to, not including, a self-signed root:
// the root is the alliance's to trust), and each CRL's issuer chain likewise.
// Every certificate given must be accounted for: a leaf no manifest row names
// is an error, so a folder is imported whole or not at all.

/** A problem of the certificate import, before or from the node: a manifest row, or a file (CRLs, certificates no row names). */
export interface SourceError {
  readonly row?: number;
  readonly file?: string;
  readonly field: string;
  readonly reason: string;
}

/** What each import item came from, to name it in errors. */
export type ItemOrigin = { readonly row: number } | { readonly file: string };

export interface CertificateSource {
  readonly items: ImportItem[];
  readonly origins: ItemOrigin[];
}

const certificateExtensions = /\.(pem|cer|crt|der|crl)$/i;

interface Found {
  readonly certificate: ParsedCertificate;
  /** File (relative to the folder) and which certificate in it, from 0. */
  readonly file: string;
  readonly index: number;
  readonly isCa: boolean;
}

interface FoundCrl {
  readonly der: Uint8Array;
  readonly file: string;
  readonly issuerNameHash: string;
}

/** Certificates and CRLs in one file: PEM blocks (CERTIFICATE, X509 CRL), or one DER certificate or CRL. */
function readFile(path: string, file: string, certificates: Found[], crls: FoundCrl[], errors: SourceError[]): void {
  const bytes = readInput(path, 'PATH');
  const add = (der: Uint8Array, kind: 'certificate' | 'crl', index: number) => {
    try {
      if (kind === 'crl') {
        crls.push({ der, file, issuerNameHash: parseCrl(der).issuerNameHash });
      } else {
        const [certificate] = readCertificates(der);
        certificates.push({ certificate: certificate!, file, index, isCa: caUsageOf(certificate!).isCertificateAuthority });
      }
    } catch (error) {
      if (!(error instanceof TongxingError)) throw error;
      errors.push({ file, field: kind === 'crl' ? 'CRL_FILE' : 'CERT_FILE', reason: `${kind === 'crl' ? 'CRL' : 'certificate'} ${index}: ${error.message}` });
    }
  };
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN ')) {
    let certificateIndex = 0;
    for (const block of pemBlocks(bytes.toString('utf8'))) {
      if (block.label === 'CERTIFICATE') add(block.der, 'certificate', certificateIndex++);
      else if (block.label === 'X509 CRL') add(block.der, 'crl', crls.length);
    }
    return;
  }
  // DER: a CRL by its name, else whichever it parses as.
  if (/\.crl$/i.test(file)) return add(bytes, 'crl', 0);
  try {
    readCertificates(bytes);
  } catch (error) {
    if (!(error instanceof EncodingError)) throw error;
    try {
      parseCrl(bytes);
      return add(bytes, 'crl', 0);
    } catch {
      // neither: reported as a certificate below
    }
  }
  add(bytes, 'certificate', 0);
}

function walk(folder: string, under = folder): string[] {
  const files: string[] = [];
  for (const name of readdirSync(under).sort()) {
    const path = join(under, name);
    if (statSync(path).isDirectory()) files.push(...walk(folder, path));
    else if (certificateExtensions.test(name)) files.push(relative(folder, path).split(sep).join('/'));
  }
  return files;
}

/** The CA certificates from `certificate` up to, not including, a self-signed root (issuer first). */
function chainOf(issuerNameHash: string, pool: readonly Found[]): Uint8Array[] {
  const chain: Uint8Array[] = [];
  let wanted = issuerNameHash;
  while (chain.length < chainCertificatesMax) {
    const issuer = pool.find((f) => f.isCa && f.certificate.subjectNameHash === wanted);
    if (!issuer || issuer.certificate.subjectNameHash === issuer.certificate.issuerNameHash) break;
    if (chain.some((der) => Buffer.from(der).equals(issuer.certificate.der))) break;
    chain.push(issuer.certificate.der);
    wanted = issuer.certificate.issuerNameHash;
  }
  return chain;
}

/**
 * Reads PATH (a folder, or one PEM bundle) and its manifest (default
 * PATH/manifest.json for a folder; required for a bundle) into import items:
 * one certificate record per manifest row, in row order, then the CRLs in file order.
 */
export function readCertificateSource(path: string, manifestPath: string | undefined): { source: CertificateSource } | { errors: SourceError[] } {
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
  } catch (error) {
    throw new UsageError(`cannot read PATH ${path}: ${(error as Error).message}`);
  }
  const manifestFile = manifestPath ?? (isFolder ? join(path, 'manifest.json') : undefined);
  if (manifestFile === undefined) throw new UsageError('a PEM bundle needs --manifest FILE naming each certificate\'s holder (CERT_SERIAL with LEGAL_CODE or EXPERT_REF)');
  let rows: unknown[];
  try {
    rows = rowsOf(JSON.parse(readInput(manifestFile, '--manifest').toString('utf8').replace(/^\uFEFF/, '')));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${manifestFile}: ${(error as Error).message}`);
  }
  const certificates: Found[] = [];
  const crls: FoundCrl[] = [];
  const errors: SourceError[] = [];
  const files = isFolder ? walk(path) : [basename(path)];
  for (const file of files) readFile(isFolder ? join(path, file) : path, file, certificates, crls, errors);

  const used = new Set<Found>();
  const items: ImportItem[] = [];
  const origins: ItemOrigin[] = [];
  rows.forEach((raw, row) => {
    const fail = (field: string, reason: string) => errors.push({ row, field, reason });
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('row', 'must be a JSON object of fields');
    const r = raw as DataSpecRow;
    let fields: Record<'file' | 'serial' | 'uscc' | 'expert' | 'reason' | 'approvedBy', string>;
    try {
      fields = {
        file: text(r, 'CERT_FILE'),
        serial: text(r, 'CERT_SERIAL').toLowerCase(),
        uscc: text(r, 'LEGAL_CODE'),
        expert: text(r, 'EXPERT_REF'),
        reason: text(r, 'TX_USCC_OVERRIDE_REASON'),
        approvedBy: text(r, 'TX_USCC_OVERRIDE_APPROVED_BY'),
      };
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      return fail(error.field, error.reason);
    }
    if ((fields.uscc === '') === (fields.expert === '')) return fail('LEGAL_CODE', 'give the holder: LEGAL_CODE (an entity\'s USCC) or EXPERT_REF (an expert of this alliance), exactly one');
    if (fields.file === '' && fields.serial === '') return fail('CERT_FILE', 'missing: name the certificate by CERT_FILE (a file in the folder) or CERT_SERIAL (its serial number, hex)');
    const candidates = certificates.filter(
      (f) => (fields.file === '' || (isFolder ? f.file === fields.file && f.index === 0 : true)) && (fields.serial === '' || serialNumberKey(f.certificate.serialNumber) === serialNumberKey(fields.serial)),
    );
    const field = fields.file !== '' ? 'CERT_FILE' : 'CERT_SERIAL';
    if (candidates.length === 0) return fail(field, `no certificate ${fields.file !== '' ? `file ${JSON.stringify(fields.file)}` : ''}${fields.serial !== '' ? ` with serial ${fields.serial}` : ''} in ${path}`);
    if (candidates.length > 1) return fail(field, `${candidates.length} certificates match (${candidates.map((c) => c.file).join(', ')}): give CERT_FILE too`);
    const found = candidates[0]!;
    if (used.has(found)) return fail(field, `the certificate in ${found.file} is named by an earlier row too`);
    used.add(found);
    const override: UsccOverride | undefined = fields.reason === '' && fields.approvedBy === '' ? undefined : { reason: fields.reason, approvedBy: fields.approvedBy };
    const record: CertificateRecord = {
      certificateDer: Buffer.from(found.certificate.der),
      holder: fields.uscc !== '' ? { $case: 'entityUscc', value: fields.uscc } : { $case: 'expertRef', value: fields.expert },
      usccOverride: override,
      intermediatesDer: chainOf(found.certificate.issuerNameHash, certificates).map((der) => Buffer.from(der)),
    };
    items.push({ item: { $case: 'certificate', value: record } });
    origins.push({ row });
  });
  for (const found of certificates) {
    if (used.has(found) || found.isCa) continue;
    errors.push({ file: found.file, field: 'CERT_FILE', reason: `certificate serial ${serialNumberKey(found.certificate.serialNumber)} ("${found.certificate.subject}") is named by no manifest row: add its holder, or remove the file` });
  }
  for (const crl of crls) {
    items.push({ item: { $case: 'crl', value: { crlDer: Buffer.from(crl.der), issuerChainDer: chainOfCrl(crl.issuerNameHash, certificates).map((der) => Buffer.from(der)) } } });
    origins.push({ file: crl.file });
  }
  if (errors.length > 0) return { errors };
  if (items.length === 0) return { errors: [{ file: path, field: 'CERT_FILE', reason: 'no certificate or CRL found' }] };
  return { source: { items, origins } };
}

/** A CRL's issuer and the CAs above it, up to a self-signed root (empty when a root signed it). */
function chainOfCrl(issuerNameHash: string, pool: readonly Found[]): Uint8Array[] {
  const issuer = pool.find((f) => f.isCa && f.certificate.subjectNameHash === issuerNameHash);
  if (!issuer || issuer.certificate.subjectNameHash === issuer.certificate.issuerNameHash) return [];
  return [issuer.certificate.der, ...chainOf(issuer.certificate.issuerNameHash, pool)];
}

/** Record field path (as the node names it) to the manifest field. */
export function certificateField(path: string): string {
  const plain = path.replace(/\[\d+\]/g, '');
  if (plain.startsWith('certificate.entityUscc')) return 'LEGAL_CODE';
  if (plain.startsWith('certificate.expertRef')) return 'EXPERT_REF';
  if (plain.startsWith('certificate.usccOverride.approvedBy')) return 'TX_USCC_OVERRIDE_APPROVED_BY';
  if (plain.startsWith('certificate.usccOverride')) return 'TX_USCC_OVERRIDE_REASON';
  if (plain.startsWith('certificate.intermediatesDer') || plain.startsWith('crl.issuerChainDer')) return 'CA_CHAIN';
  if (plain.startsWith('crl')) return 'CRL_FILE';
  return 'CERT_FILE';
}

// ---- export ----

const short = (hex: string): string => hex.slice(0, 12);

/**
 * Writes an export as a folder `tongxing import certificates` reads back:
 * certs/ (each recorded certificate, PEM), ca/ (the CA certificates of their
 * chains and of the CRLs'), crls/ (PEM) and manifest.json. `dir` must be empty or new.
 */
export function writeCertificateExport(dir: string, certificates: readonly ExportedCertificate[], crls: readonly ExportedCrl[], cityOf: (c: ExportedCertificate) => string): { manifest: string; files: number } {
  try {
    if (readdirSync(dir).length > 0) throw new UsageError(`--out ${dir} is not empty: export certificates into a new or empty folder`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
  }
  const written = new Map<string, Uint8Array>();
  const put = (file: string, der: Uint8Array, label: string) => {
    if (written.has(file)) return;
    written.set(file, der);
    mkdirSync(join(dir, dirname(file)), { recursive: true });
    writeOutput(join(dir, file), toPem(label, der));
  };
  const chain = (ders: readonly Uint8Array[]) => ders.forEach((der) => put(`ca/${short(sm3Hex(der))}.pem`, der, 'CERTIFICATE'));
  const rows: DataSpecRow[] = [];
  for (const exported of certificates) {
    const record = exported.record!;
    const [leaf] = readCertificates(record.certificateDer);
    const serial = serialNumberKey(leaf!.serialNumber);
    const file = `certs/${short(leaf!.issuerNameHash)}-${serial}.pem`;
    put(file, record.certificateDer, 'CERTIFICATE');
    chain(record.intermediatesDer);
    const row: DataSpecRow = { CERT_FILE: file, CERT_SERIAL: serial, CERT_SUBJECT: leaf!.subject, CERT_ISSUER: leaf!.issuer };
    if (record.holder?.$case === 'entityUscc') row.LEGAL_CODE = record.holder.value;
    else row.EXPERT_REF = record.holder?.value ?? '';
    if (record.usccOverride) {
      row.TX_USCC_OVERRIDE_REASON = record.usccOverride.reason;
      row.TX_USCC_OVERRIDE_APPROVED_BY = record.usccOverride.approvedBy;
    }
    row.TX_RECORDED_CITY = cityOf(exported);
    rows.push(row);
  }
  for (const exported of crls) {
    const crl = exported.crl!;
    put(`crls/${short(sm3Hex(crl.crlDer))}.crl`, crl.crlDer, 'X509 CRL');
    chain(crl.issuerChainDer);
  }
  const manifest = join(dir, 'manifest.json');
  mkdirSync(dir, { recursive: true });
  writeOutput(manifest, JSON.stringify(rows, null, 2) + '\n');
  return { manifest, files: written.size };
}
