import type { ExpertImport } from '../../gen/tongxing/api/v1/transfer.js';
import { ExpertProfile, type CertificateRecord, type CertificateRevocationList } from '../../gen/tongxing/records/v1/records.js';
import { checkCertificateRecord, checkCrlRecord, recordCertificate, serialNumberKey } from '../../federation/certificates.js';
import { parseCrl } from '../../federation/crypto/crl.js';
import { assert } from '../../federation/errors.js';
import * as queries from '../../federation/queries.js';
import { holderOf, revocationKey } from '../../federation/views/certificate.js';
import { expertKey, expertStanding, resolveExpert, type ExpertView } from '../../federation/views/expert.js';
import { decodeView } from '../../federation/views/provenance.js';
import type { ExpertPersonalRecord } from '../store/expert-private.js';
import { standing } from './certificate-standing.js';
import { expertsRuntime } from './experts-runtime.js';
import { Step, type RowPlan } from './transfer-plan.js';
import type { ApiContext } from './service.js';

// Planners of certificate, CRL and expert rows, beside planEntity and
// planSanction (transfer-commit.ts): each answers the row's step against this
// node's state, or why the state refuses it. Chain verification (the SM2 work)
// runs only for rows that would be written, and once per staged import: a row
// verified by a dry run is not verified again by the commit.

/** What every certificate and CRL row of one commit is checked at: one time, and the roots trusted then. */
export interface TrustNow {
  readonly nowMs: number;
  readonly roots: readonly Uint8Array[];
}

const holderText = (holder: { uscc?: string; expertRef?: string }): string => (holder.uscc !== undefined ? `entity ${holder.uscc}` : `expert ${holder.expertRef}`);

/**
 * A certificate recorded for the same holder (by any member) changes nothing;
 * for another holder, or a different certificate under its issuer and serial,
 * or a revoked one, the row is refused; otherwise its chain must verify now.
 */
export async function planCertificate(c: ApiContext, record: CertificateRecord, verified: boolean, trust: TrustNow): Promise<RowPlan> {
  const leaf = recordCertificate(record);
  assert('ok' in leaf, 'a staged certificate parses');
  const issuerNameHash = leaf.ok.issuerNameHash;
  const serialNumber = serialNumberKey(leaf.ok.serialNumber);
  const der = Buffer.from(leaf.ok.der).toString('base64');
  const existing = await queries.getCertificate(c.replica, issuerNameHash, serialNumber);
  if (standing(c, existing, { issuerNameHash, serialNumber, der }, trust.nowMs).outcome === 'revoked') {
    return { refusal: { field: 'certificate.certificateDer', reason: `certificate serial ${serialNumber} is revoked; a revoked certificate is not recorded again` } };
  }
  const recording = existing.recording;
  if (recording) {
    const where = `${c.describe(recording.at.author)} (log seq ${recording.at.seq})`;
    if (recording.facts.der !== der) {
      return { refusal: { field: 'certificate.certificateDer', reason: `a different certificate with this issuer and serial number ${serialNumber} is recorded by ${where}` } };
    }
    const holder = holderOf(record);
    if (holder.uscc !== recording.holder.uscc || holder.expertRef !== recording.holder.expertRef) {
      const field = holder.uscc !== undefined ? 'certificate.entityUscc' : 'certificate.expertRef';
      return { refusal: { field, reason: `certificate serial ${serialNumber} is already recorded for ${holderText(recording.holder)} by ${where}` } };
    }
    return { step: Step.Unchanged };
  }
  if (!verified) {
    const checked = checkCertificateRecord(record, trust.roots, trust.nowMs);
    if (!('ok' in checked)) return { refusal: { field: `certificate.${checked.field ?? 'certificateDer'}`, reason: checked.message } };
  }
  return { step: Step.RecordCertificate };
}

/** A CRL every revocation of which this node already recorded (from this CRL or another) changes nothing; otherwise its signature must verify under a trusted chain now. */
export async function planCrl(c: ApiContext, crl: CertificateRevocationList, verified: boolean, trust: TrustNow): Promise<RowPlan> {
  let revoked: { issuerNameHash: string; entries: ReadonlyArray<{ serialNumber: string; revokedAtMs: number }> };
  if (verified) {
    const parsed = parseCrl(crl.crlDer);
    revoked = { issuerNameHash: parsed.issuerNameHash, entries: parsed.entries.map((e) => ({ serialNumber: serialNumberKey(e.serialNumber), revokedAtMs: e.revokedAt.getTime() })) };
  } else {
    const checked = checkCrlRecord(crl, trust.roots);
    if (!('ok' in checked)) return { refusal: { field: `crl.${checked.field ?? 'crlDer'}`, reason: checked.message } };
    revoked = checked.ok;
  }
  const keys = revoked.entries.map((e) => revocationKey(revoked.issuerNameHash, e.serialNumber, e.revokedAtMs, c.replica.nodeId));
  const present = await c.replica.store.getStates(keys);
  return { step: present.every((value) => value !== undefined) ? Step.Unchanged : Step.ImportCrl };
}

/**
 * An expert row at its home node: a new person is registered (personal fields
 * kept here, the profile replicated); a known one is updated when its profile
 * or personal fields differ, and unchanged otherwise.
 */
export async function planExpert(c: ApiContext, row: ExpertImport): Promise<RowPlan> {
  const personal = row.personal!;
  const profile = row.profile!;
  const ref = profile.expertRef;
  const expert = resolveExpert(decodeView<ExpertView>(await c.replica.store.getState(expertKey(ref))), (author) => c.replica.isQuarantined(author));
  const found = expertStanding(expert, c.replica.nodeId);
  const fields = { expertRef: ref, idCardNumber: personal.idCardNumber, name: personal.name, phone: personal.phone, birthday: personal.birthday, employerName: personal.employerName };
  if (found.standing === 'unregistered') return { step: Step.RegisterExpert, personal: { ...fields, registeredAtMs: c.clock.nowMs() } };
  if (found.standing === 'homed-elsewhere') {
    return { refusal: { field: 'personal.idCardNumber', reason: `expert ${ref} is homed at ${c.describe(found.home.author)}; only its home node changes it` } };
  }
  const kept = await expertsRuntime(c).privateStore.personal(ref);
  const samePersonal = kept !== undefined && (Object.keys(fields) as Array<keyof typeof fields>).every((k) => kept[k] === fields[k]);
  const sameProfile = Buffer.from(ExpertProfile.encode(found.expert.profile).finish()).equals(ExpertProfile.encode(profile).finish());
  if (samePersonal && sameProfile) return { step: Step.Unchanged };
  // Only the personal fields changed: the profile is stated again, so the row is one record like any update.
  const updated: ExpertPersonalRecord | undefined = samePersonal ? undefined : { ...fields, registeredAtMs: kept?.registeredAtMs ?? c.clock.nowMs() };
  return { step: Step.UpdateExpert, personal: updated };
}
