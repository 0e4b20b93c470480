import type { CertificateRevocationList, CertificateRecord } from '../../gen/tongxing/records/v1/records.js';
import type { ExportedCertificate, ExportedCrl, ExportedExpert, ExportRecordsRequest, ExportRecordsResponse } from '../../gen/tongxing/api/v1/transfer.js';
import { serialNumberKey } from '../../federation/certificates.js';
import { parseCrl } from '../../federation/crypto/crl.js';
import { assert, ValidationError } from '../../federation/errors.js';
import { decodeEntry, decodeRecord } from '../../federation/log/entry.js';
import { exportPageRowsMax } from '../limits.js';
import { stateRangeAfter } from '../../federation/scan.js';
import { resolveCertificate, revocationKey, type CertificateView, type RevocationView } from '../../federation/views/certificate.js';
import { resolveEntity, type EntityView } from '../../federation/views/entity.js';
import { expertStanding, resolveExpert, type ExpertView } from '../../federation/views/expert.js';
import { decodeView, type Provenance } from '../../federation/views/provenance.js';
import { sanctionFromView, type SanctionView } from '../../federation/views/sanction.js';
import { expertsRuntime } from './experts-runtime.js';
import type { ImportKind } from './transfer-imports.js';
import type { ApiContext } from './service.js';

// Paged export, as the views resolve it (quarantined authors left out): one
// page is up to `limit` view keys in key order, the token the last key read.
// Certificates come as the records that bound their holders (read from the
// recording member's log, so with their intermediates), then the CRLs whose
// revocations count here, each once: a CRL is exported on the page holding the
// first of its revocation keys.

const certificatesPrefix = 'view/cert/';
const revocationsPrefix = 'view/revoked/';

const prefixesOf = (c: ApiContext, kind: ImportKind, ownOnly: boolean): readonly string[] => {
  switch (kind) {
    case 'entities':
      return ['view/entity/'];
    case 'sanctions':
      return [ownOnly ? `view/sanction/${c.replica.nodeId}/` : 'view/sanction/'];
    case 'certificates':
      return [certificatesPrefix, revocationsPrefix];
    case 'experts':
      return ['view/expert/'];
  }
};

export async function exportRecords(c: ApiContext, kind: ImportKind, request: ExportRecordsRequest): Promise<ExportRecordsResponse> {
  const limit = request.limit === 0 ? exportPageRowsMax : Math.min(request.limit, exportPageRowsMax);
  const prefixes = prefixesOf(c, kind, request.ownOnly);
  let prefix = prefixes[0]!;
  let after: string | undefined;
  if (request.pageToken !== '') {
    after = Buffer.from(request.pageToken, 'base64url').toString('utf8');
    const found = prefixes.find((p) => after!.startsWith(p));
    if (found === undefined) throw new ValidationError('pageToken', 'not a page token of this export (kind and ownOnly must stay the same)');
    prefix = found;
    if (after === prefix) after = undefined; // the start of the next part
  }
  const page = await stateRangeAfter(c.replica.store, prefix, after, limit);
  const response: ExportRecordsResponse = { entities: [], sanctions: [], certificates: [], crls: [], experts: [], nextPageToken: '' };
  if (prefix === 'view/entity/') {
    for (const [, bytes] of page) {
      const entity = resolveEntity(decodeView<EntityView>(bytes), (author) => c.replica.isQuarantined(author));
      if (!entity || (request.ownOnly && entity.home.author !== c.replica.nodeId)) continue;
      response.entities.push({ profile: entity.profile, home: c.provenance(entity.home) });
    }
  } else if (prefix.startsWith('view/sanction/')) {
    for (const [, bytes] of page) {
      const sanction = sanctionFromView(decodeView<SanctionView>(bytes)!);
      if (c.replica.isQuarantined(sanction.issued.author)) continue;
      response.sanctions.push({ sanction: sanction.issue, issued: c.provenance(sanction.issued), lift: sanction.lift?.lift, lifted: sanction.lift && c.provenance(sanction.lift.lifted) });
    }
  } else if (prefix === certificatesPrefix) {
    response.certificates = await certificatesOf(c, page, request.ownOnly);
  } else if (prefix === revocationsPrefix) {
    response.crls = await crlsOf(c, page, request.ownOnly);
  } else {
    response.experts = await expertsOf(c, page, request.ownOnly, request.includePersonal);
  }
  if (page.length === limit) response.nextPageToken = Buffer.from(page[page.length - 1]![0]).toString('base64url');
  else {
    // This part is done: the next page starts the next part, if any.
    const next = prefixes[prefixes.indexOf(prefix) + 1];
    if (next !== undefined) response.nextPageToken = Buffer.from(next).toString('base64url');
  }
  return response;
}

/** The record at a log position, as its author wrote it. */
async function recordAt(c: ApiContext, at: Provenance) {
  const [entry] = await c.replica.store.entries(at.author, at.seq, at.seq, 1);
  assert(entry !== undefined, `the view names ${at.author} seq ${at.seq}, which the store holds`);
  return decodeRecord(decodeEntry(entry.bytes).entry);
}

async function certificatesOf(c: ApiContext, page: ReadonlyArray<[string, Uint8Array]>, ownOnly: boolean): Promise<ExportedCertificate[]> {
  const exported: ExportedCertificate[] = [];
  for (const [, bytes] of page) {
    const recording = resolveCertificate(decodeView<CertificateView>(bytes), [], (author) => c.replica.isQuarantined(author)).recording;
    if (!recording || (ownOnly && recording.at.author !== c.replica.nodeId)) continue;
    const record = await recordAt(c, recording.at);
    assert(record.kind?.$case === 'certificateRecord', 'a certificate recording is a certificate record');
    exported.push({ record: record.kind.value as CertificateRecord, recorded: c.provenance(recording.at) });
  }
  return exported;
}

async function crlsOf(c: ApiContext, page: ReadonlyArray<[string, Uint8Array]>, ownOnly: boolean): Promise<ExportedCrl[]> {
  const keys = new Set(page.map(([key]) => key));
  const imports = new Map<string, Provenance>();
  for (const [, bytes] of page) {
    const revocation = decodeView<RevocationView>(bytes)!;
    if (!revocation.fromCrl || c.replica.isQuarantined(revocation.at.author) || (ownOnly && revocation.at.author !== c.replica.nodeId)) continue;
    imports.set(`${revocation.at.author}/${revocation.at.seq}`, revocation.at);
  }
  const exported: ExportedCrl[] = [];
  for (const at of imports.values()) {
    const record = await recordAt(c, at);
    assert(record.kind?.$case === 'certificateRevocationList', 'a CRL revocation comes from a CRL record');
    const crl: CertificateRevocationList = record.kind.value;
    const parsed = parseCrl(crl.crlDer);
    const first = parsed.entries.map((e) => revocationKey(parsed.issuerNameHash, serialNumberKey(e.serialNumber), e.revokedAt.getTime(), at.author)).sort()[0];
    if (first !== undefined && keys.has(first)) exported.push({ crl, imported: c.provenance(at) });
  }
  return exported;
}

async function expertsOf(c: ApiContext, page: ReadonlyArray<[string, Uint8Array]>, ownOnly: boolean, includePersonal: boolean): Promise<ExportedExpert[]> {
  const exported: ExportedExpert[] = [];
  for (const [, bytes] of page) {
    const expert = resolveExpert(decodeView<ExpertView>(bytes), (author) => c.replica.isQuarantined(author));
    if (!expert) continue;
    const homedHere = expertStanding(expert, c.replica.nodeId).standing === 'homed-here';
    if (ownOnly && !homedHere) continue;
    const record = includePersonal && homedHere ? await expertsRuntime(c).privateStore.personal(expert.profile.expertRef) : undefined;
    const personal = record && { idCardNumber: record.idCardNumber, name: record.name, phone: record.phone, birthday: record.birthday, employerName: record.employerName };
    exported.push({ profile: expert.profile, home: c.provenance(expert.home), personal });
  }
  return exported;
}
