// Stateless rules for one record: checked before a record is signed (local writes)
// and after it is decoded (ingest), so a record that breaks them never enters a log
// or a view. Stateful rules (home node, who may lift a sanction, quorum) belong to
// the views. Fields are checked in proto order and the first failure is thrown, so
// every node names the same field for the same record.
//
// Contract: throws ValidationError(dotted field path, reason); paths use the
// generated TypeScript names, e.g. `record.sanctionIssue.restrictionPeriod.untilMs`.
// "Characters" are UTF-16 code units (JS string length): a CJK character counts one.

import {
  ExpertStatus,
  GroundsCategory,
  LegalRole,
  LiftReason,
  ListType,
  MemberRole,
  Restriction,
  RevocationReason,
  type CertificateRecord,
  type CertificateRevocation,
  type CertificateRevocationList,
  type Employment,
  type EntityProfile,
  type ExpertAvailability,
  type ExpertProfile,
  type GovernanceApproval,
  type GovernanceProposal,
  type KeyRotation,
  type Member,
  type MemberAdmission,
  type Period,
  type RecognitionPolicy,
  type Record,
  type SanctionIssue,
  type SanctionLift,
  type SanctionOptOut,
  type SanctionSubject,
  type WatchAlert,
  CreditRole,
  HonourKind,
  MisconductSeverity,
  PerformanceGrade,
  RatingGrade,
  type CreditLift,
  type CreditRecordHeader,
  type HonourEntry,
  type MutualEvaluation,
  type PerformanceEvaluation,
  type ThirdPartyRating,
  type VenueMisconduct,
  Exclusion,
  LeaseOutcome,
  ScoreSheet,
  type EvaluationDraw,
  type EvaluationOutcome,
  type EvaluationScore,
  type EvaluationSession,
  type ExpertLease,
} from '../../gen/tongxing/records/v1/records.js';
import { ValidationError } from '../errors.js';
import { specialtyCodeProblem } from '../experts/specialty.js';
import { drawSeedBytes } from '../experts/shuffle.js';
import { certificateBytesMax, chainCertificatesMax, crlBytesMax, entryBytesMax, identifierCharsMax, listItemsMax, textCharsMax } from '../limits.js';
import { drawListedExpertsMax, evaluationBiddersMax, panelSeatsMax } from '../limits.js';
import { assertUscc } from './uscc.js';
import { validateCreditPolicy } from '../credit/method.js';

/** The ECMAScript Date range, so every recorded time converts to a Date. */
const timeMsMax = 8_640_000_000_000_000n;

/** SM3 digests: node ids, entry hashes, CA fingerprints. */
const digestBytes = 32;

/** Uncompressed SM2 point: 0x04 || x || y. */
const publicKeyBytes = 65;

/** RFC 5280: a serial number is at most 20 octets. */
const serialHexCharsMax = 40;

/**
 * Pseudonymous expert reference, chosen by the expert's home node (e.g. `km.e-000123`):
 * 1-64 of [A-Za-z0-9._-]. Never derived from personal data.
 */
export const expertRefPattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Refs shaped like a resident ID number (15 or 18 characters) or a mainland mobile
 * number are refused: ID card and phone never leave the home node
 * (docs/DOMAIN.md, "Resident identity numbers and expert references").
 */
const personalDataPattern = /^(\d{15}|\d{17}[\dXx]|1\d{10})$/;

/** MAJOR_CODE: format and known categories in federation/experts/specialty.ts. */
export { specialtyCodePattern } from '../experts/specialty.js';

/** gRPC endpoint: host or [IPv6] then a port. */
const endpointPattern = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/** libp2p peer id as text: base58btc or a base32 CID, letters and digits only. */
const peerIdPattern = /^[A-Za-z0-9]+$/;

/** Decimal yuan, up to 6 decimal places. */
const decimalYuanPattern = /^\d{1,18}(\.\d{1,6})?$/;

// ---- Reusable checkers ----

/** Length only; empty allowed. */
export function optionalText(value: string, field: string, max = textCharsMax): void {
  if (value.length > max) throw new ValidationError(field, `${value.length} characters, at most ${max}`);
}

/** Present (not blank) and at most `max` characters. */
export function requireText(value: string, field: string, max = textCharsMax): void {
  if (value.trim() === '') throw new ValidationError(field, 'missing');
  optionalText(value, field, max);
}

/** A key in views: short, no control characters, no surrounding spaces (which would make look-alike keys). */
export function requireIdentifier(value: string, field: string): void {
  requireText(value, field, identifierCharsMax);
  if (value.trim() !== value) throw new ValidationError(field, 'leading or trailing whitespace');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new ValidationError(field, 'control characters');
}

/** Between `min` and `max` items; callers check each item as `${field}[i]`. */
export function requireList(items: readonly unknown[], field: string, min = 0, max = listItemsMax): void {
  if (items.length < min) throw new ValidationError(field, items.length === 0 ? 'missing' : `${items.length} items, at least ${min}`);
  if (items.length > max) throw new ValidationError(field, `${items.length} items, at most ${max}`);
}

/** Lists with set meaning (roles, specialties, sectors) hold each value once. */
export function requireDistinct(items: readonly (string | number)[], field: string): void {
  const seen = new Map<string | number, number>();
  items.forEach((item, i) => {
    const first = seen.get(item);
    if (first !== undefined) throw new ValidationError(`${field}[${i}]`, `duplicate of ${field}[${first}]`);
    seen.set(item, i);
  });
}

/** A known, specified value of a generated enum (UNSPECIFIED = 0, UNRECOGNIZED = -1 and unknown numbers refused). */
export function requireEnum(value: number, enumObject: object, field: string): void {
  if (value === 0) throw new ValidationError(field, 'unspecified');
  const name = (enumObject as { [value: number]: unknown })[value];
  if (!Number.isInteger(value) || value < 0 || typeof name !== 'string') {
    throw new ValidationError(field, `unknown value ${value}`);
  }
}

export function requireEnumList(values: readonly number[], enumObject: object, field: string, min = 1): void {
  requireList(values, field, min);
  values.forEach((value, i) => requireEnum(value, enumObject, `${field}[${i}]`));
  requireDistinct(values, field);
}

/** Unix milliseconds, set (0 is proto3's "absent") and within the Date range. */
export function requireTime(ms: bigint, field: string): void {
  if (ms === 0n) throw new ValidationError(field, 'missing');
  if (ms < 0n) throw new ValidationError(field, `${ms} is before 1970`);
  if (ms > timeMsMax) throw new ValidationError(field, `${ms} is beyond the Date range`);
}

/**
 * A half-open [fromMs, untilMs) with fromMs < untilMs. `openEnded` allows untilMs = 0
 * (still running), only where the proto says so (current employment).
 */
export function requirePeriod(period: Period | undefined, field: string, openEnded = false): void {
  if (!period) throw new ValidationError(field, 'missing');
  requireTime(period.fromMs, `${field}.fromMs`);
  if (period.untilMs === 0n && openEnded) return;
  requireTime(period.untilMs, `${field}.untilMs`);
  if (period.untilMs <= period.fromMs) {
    throw new ValidationError(`${field}.untilMs`, `${period.untilMs} is not after fromMs ${period.fromMs}`);
  }
}

/** GB/T 2260 administrative division: 6 digits. */
export function requireRegionCode(value: string, field: string): void {
  if (value === '') throw new ValidationError(field, 'missing');
  if (!/^\d{6}$/.test(value)) throw new ValidationError(field, 'must be 6 digits (GB/T 2260)');
}

/** A USCC that passes GB 32100 (references carry no override; see EntityProfile for that). */
export function requireUscc(value: string, field: string): void {
  if (value === '') throw new ValidationError(field, 'missing');
  assertUscc(value, field);
}

export function requireExpertRef(value: string, field: string): void {
  if (value === '') throw new ValidationError(field, 'missing');
  if (!expertRefPattern.test(value)) throw new ValidationError(field, 'must be 1-64 characters of [A-Za-z0-9._-]');
  if (personalDataPattern.test(value)) {
    throw new ValidationError(field, 'looks like an ID card or phone number; expert refs are pseudonymous');
  }
}

export function requireSpecialtyCode(value: string, field: string): void {
  if (value === '') throw new ValidationError(field, 'missing');
  const problem = specialtyCodeProblem(value);
  if (problem !== undefined) throw new ValidationError(field, problem);
}

export function requireBytes(bytes: Uint8Array, field: string, length: number): void {
  if (bytes.length === 0) throw new ValidationError(field, 'missing');
  if (bytes.length !== length) throw new ValidationError(field, `${bytes.length} bytes, expected ${length}`);
}

/** A DER structure (certificate, CRL): non-empty, bounded, starts with a SEQUENCE. */
export function requireDer(bytes: Uint8Array, field: string, max: number): void {
  if (bytes.length === 0) throw new ValidationError(field, 'missing');
  if (bytes.length > max) throw new ValidationError(field, `${bytes.length} bytes, at most ${max}`);
  if (bytes[0] !== 0x30) throw new ValidationError(field, 'not DER: does not start with a SEQUENCE');
}

export function requirePublicKey(bytes: Uint8Array, field: string): void {
  requireBytes(bytes, field, publicKeyBytes);
  if (bytes[0] !== 0x04) throw new ValidationError(field, 'not an uncompressed point (first byte must be 0x04)');
}

/** SM2 signature as raw r||s (64 bytes) or DER SEQUENCE { r, s } (at most 72 bytes); both are seen in the field. */
export function requireSignature(bytes: Uint8Array, field: string): void {
  if (bytes.length === 0) throw new ValidationError(field, 'missing');
  const raw = bytes.length === 64;
  const der = bytes[0] === 0x30 && bytes.length >= 8 && bytes.length <= 72;
  if (!raw && !der) throw new ValidationError(field, `${bytes.length} bytes: neither raw r||s (64) nor DER (8-72)`);
}

// ---- Records ----

/** Throws ValidationError for the first broken rule; `record.kind` 'missing' when no (known) kind is set. */
export function validateRecord(record: Record, field = 'record'): void {
  const kind = record.kind;
  if (!kind) throw new ValidationError(`${field}.kind`, 'missing');
  const at = `${field}.${kind.$case}`;
  switch (kind.$case) {
    case 'entityRegistration':
    case 'entityUpdate':
      return validateEntityProfile(kind.value.profile, `${at}.profile`);
    case 'certificateRecord':
      return validateCertificateRecord(kind.value, at);
    case 'certificateRevocation':
      return validateCertificateRevocation(kind.value, at);
    case 'sanctionIssue':
      return validateSanctionIssue(kind.value, at);
    case 'sanctionLift':
      return validateSanctionLift(kind.value, at);
    case 'expertProfile':
      return validateExpertProfile(kind.value, at);
    case 'expertAvailability':
      return validateExpertAvailability(kind.value, at);
    case 'governanceProposal':
      return validateGovernanceProposal(kind.value, at);
    case 'governanceApproval':
      return validateGovernanceApproval(kind.value, at);
    case 'sanctionOptOut':
      return validateSanctionOptOut(kind.value, at);
    case 'certificateRevocationList':
      return validateCertificateRevocationList(kind.value, at);
    case 'watchAlert':
      return validateWatchAlert(kind.value, at);
    case 'evaluationSession':
      return validateEvaluationSession(kind.value, at);
    case 'evaluationDraw':
      return validateEvaluationDraw(kind.value, at);
    case 'expertLease':
      return validateExpertLease(kind.value, at);
    case 'evaluationOutcome':
      return validateEvaluationOutcome(kind.value, at);
    case 'evaluationScore':
      return validateEvaluationScore(kind.value, at);
    case 'performanceEvaluation':
      return validatePerformanceEvaluation(kind.value, at);
    case 'venueMisconduct':
      return validateVenueMisconduct(kind.value, at);
    case 'mutualEvaluation':
      return validateMutualEvaluation(kind.value, at);
    case 'thirdPartyRating':
      return validateThirdPartyRating(kind.value, at);
    case 'honourEntry':
      return validateHonourEntry(kind.value, at);
    case 'creditLift':
      return validateCreditLift(kind.value, at);
  }
  // A kind this build does not know (hand-built object): treated as absent.
  throw new ValidationError(`${field}.kind`, `missing (unknown kind '${String((kind as { $case: unknown }).$case)}')`);
}

export function validateEntityProfile(profile: EntityProfile | undefined, field: string): void {
  if (!profile) throw new ValidationError(field, 'missing');
  if (profile.uscc === '') throw new ValidationError(`${field}.uscc`, 'missing');
  // Override errors are named `${field}.usccOverride`.
  assertUscc(profile.uscc, `${field}.uscc`, profile.usccOverride);
  requireText(profile.legalName, `${field}.legalName`);
  requireEnumList(profile.roles, LegalRole, `${field}.roles`);
  optionalText(profile.legalRepresentative, `${field}.legalRepresentative`);
  optionalText(profile.legalType, `${field}.legalType`);
  requireRegionCode(profile.regionCode, `${field}.regionCode`);
  if (profile.registeredCapital !== '' && !decimalYuanPattern.test(profile.registeredCapital)) {
    throw new ValidationError(`${field}.registeredCapital`, 'must be decimal yuan, e.g. 5000000 or 1234.56');
  }
  optionalText(profile.legalStatus, `${field}.legalStatus`);
}

/** Shape only: whether the certificate is SM2 and chains to a trusted root is the views' rule (federation/certificates.ts). */
export function validateCertificateRecord(record: CertificateRecord, field: string): void {
  requireDer(record.certificateDer, `${field}.certificateDer`, certificateBytesMax);
  const holder = record.holder;
  if (!holder) throw new ValidationError(`${field}.holder`, 'missing');
  if (holder.$case === 'entityUscc') {
    if (holder.value === '') throw new ValidationError(`${field}.entityUscc`, 'missing');
    assertUscc(holder.value, `${field}.entityUscc`, record.usccOverride);
  } else {
    if (record.usccOverride) throw new ValidationError(`${field}.usccOverride`, 'only for an entity holder');
    requireExpertRef(holder.value, `${field}.expertRef`);
  }
  requireCertificateList(record.intermediatesDer, `${field}.intermediatesDer`);
}

/** CA certificates of a chain (DER), at most chainCertificatesMax. */
export function requireCertificateList(certificates: readonly Uint8Array[], field: string): void {
  requireList(certificates, field, 0, chainCertificatesMax);
  certificates.forEach((der, i) => requireDer(der, `${field}[${i}]`, certificateBytesMax));
}

export function validateCertificateRevocationList(crl: CertificateRevocationList, field: string): void {
  requireDer(crl.crlDer, `${field}.crlDer`, crlBytesMax);
  requireCertificateList(crl.issuerChainDer, `${field}.issuerChainDer`);
}

export function validateWatchAlert(alert: WatchAlert, field: string): void {
  requireBytes(alert.watcher, `${field}.watcher`, digestBytes);
  requireIdentifier(alert.sanctionId, `${field}.sanctionId`);
  validateSanctionSubject(alert.subject, `${field}.subject`);
  requireSerialNumber(alert.serialNumber, `${field}.serialNumber`);
  requireNameHash(alert.issuerNameHash, `${field}.issuerNameHash`);
  requireTime(alert.signedInAtMs, `${field}.signedInAtMs`);
}

/** A certificate serial as views key it: lowercase hex of the magnitude, no leading zeros, at most 20 octets. */
export function requireSerialNumber(serial: string, field: string): void {
  if (serial === '') throw new ValidationError(field, 'missing');
  if (!/^(0|[1-9a-f][0-9a-f]*)$/.test(serial)) throw new ValidationError(field, 'must be lowercase hex without leading zeros');
  if (serial.length > serialHexCharsMax) throw new ValidationError(field, `${serial.length} hex digits, at most ${serialHexCharsMax} (20 octets)`);
}

/** SM3 of an issuer Name DER, lowercase hex. */
export function requireNameHash(hash: string, field: string): void {
  if (hash === '') throw new ValidationError(field, 'missing');
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new ValidationError(field, 'must be 64 lowercase hex digits (SM3)');
}

export function validateCertificateRevocation(revocation: CertificateRevocation, field: string): void {
  const serial = revocation.serialNumber;
  if (serial === '') throw new ValidationError(`${field}.serialNumber`, 'missing');
  if (!/^(0|[1-9a-f][0-9a-f]*)$/.test(serial)) {
    throw new ValidationError(`${field}.serialNumber`, 'must be lowercase hex without leading zeros');
  }
  if (serial.length > serialHexCharsMax) {
    throw new ValidationError(`${field}.serialNumber`, `${serial.length} hex digits, at most ${serialHexCharsMax} (20 octets)`);
  }
  if (revocation.issuerNameHash === '') throw new ValidationError(`${field}.issuerNameHash`, 'missing');
  if (!/^[0-9a-f]{64}$/.test(revocation.issuerNameHash)) {
    throw new ValidationError(`${field}.issuerNameHash`, 'must be 64 lowercase hex digits (SM3)');
  }
  requireTime(revocation.revokedAtMs, `${field}.revokedAtMs`);
  requireEnum(revocation.reason, RevocationReason, `${field}.reason`);
  if (revocation.crlDer.length > 0) requireDer(revocation.crlDer, `${field}.crlDer`, entryBytesMax);
}

/** Entity subjects need a name (BODY_NAME); for experts it is optional, the ref identifies them. */
export function validateSanctionSubject(subject: SanctionSubject | undefined, field: string): void {
  if (!subject) throw new ValidationError(field, 'missing');
  const id = subject.id;
  if (!id) throw new ValidationError(`${field}.id`, 'missing');
  if (id.$case === 'uscc') {
    if (id.value === '') throw new ValidationError(`${field}.uscc`, 'missing');
    assertUscc(id.value, `${field}.uscc`, subject.usccOverride);
    requireText(subject.name, `${field}.name`);
  } else {
    if (subject.usccOverride) throw new ValidationError(`${field}.usccOverride`, 'only for an entity subject');
    requireExpertRef(id.value, `${field}.expertRef`);
    optionalText(subject.name, `${field}.name`);
  }
}

export function validateSanctionIssue(issue: SanctionIssue, field: string): void {
  requireIdentifier(issue.sanctionId, `${field}.sanctionId`);
  validateSanctionSubject(issue.subject, `${field}.subject`);
  requireEnum(issue.listType, ListType, `${field}.listType`);
  requireText(issue.grounds, `${field}.grounds`);
  requireEnum(issue.groundsCategory, GroundsCategory, `${field}.groundsCategory`);
  requireText(issue.decidingAuthority, `${field}.decidingAuthority`);
  requireText(issue.documentCode, `${field}.documentCode`);
  requireList(issue.scope, `${field}.scope`);
  issue.scope.forEach((sector, i) => requireText(sector, `${field}.scope[${i}]`));
  requireDistinct(issue.scope, `${field}.scope`);
  requireEnum(issue.restriction, Restriction, `${field}.restriction`);
  // Both windows are required and kept apart (docs/DOMAIN.md, "Sanctions: lists, publication and restriction").
  requirePeriod(issue.restrictionPeriod, `${field}.restrictionPeriod`);
  requirePeriod(issue.publicationPeriod, `${field}.publicationPeriod`);
  requireTime(issue.decidedAtMs, `${field}.decidedAtMs`);
}

export function validateSanctionLift(lift: SanctionLift, field: string): void {
  requireIdentifier(lift.sanctionId, `${field}.sanctionId`);
  requireEnum(lift.reason, LiftReason, `${field}.reason`);
  requireText(lift.explanation, `${field}.explanation`);
  requireTime(lift.effectiveAtMs, `${field}.effectiveAtMs`);
}

export function validateEmployment(employment: Employment, field: string): void {
  if (employment.employerUscc === '') throw new ValidationError(`${field}.employerUscc`, 'missing');
  assertUscc(employment.employerUscc, `${field}.employerUscc`, employment.employerUsccOverride); // errors name employerUsccOverride
  requirePeriod(employment.period, `${field}.period`, true); // untilMs = 0 while current
}

/** The proto has no personal fields; the ref's format keeps ID and phone numbers out too. */
export function validateExpertProfile(profile: ExpertProfile, field: string): void {
  requireExpertRef(profile.expertRef, `${field}.expertRef`);
  requireList(profile.specialtyCodes, `${field}.specialtyCodes`, 1);
  profile.specialtyCodes.forEach((code, i) => requireSpecialtyCode(code, `${field}.specialtyCodes[${i}]`));
  requireDistinct(profile.specialtyCodes, `${field}.specialtyCodes`);
  requireList(profile.employment, `${field}.employment`);
  profile.employment.forEach((employment, i) => validateEmployment(employment, `${field}.employment[${i}]`));
  requireRegionCode(profile.regionCode, `${field}.regionCode`);
  requireEnum(profile.status, ExpertStatus, `${field}.status`);
}

/** No windows means "not available" (the home node's latest word wins). */
export function validateExpertAvailability(availability: ExpertAvailability, field: string): void {
  requireExpertRef(availability.expertRef, `${field}.expertRef`);
  requireList(availability.windows, `${field}.windows`);
  availability.windows.forEach((window, i) => requirePeriod(window, `${field}.windows[${i}]`));
}

export function validateMember(member: Member, field: string): void {
  requirePublicKey(member.publicKey, `${field}.publicKey`);
  requireText(member.city, `${field}.city`);
  requireRegionCode(member.regionCode, `${field}.regionCode`);
  requireList(member.endpoints, `${field}.endpoints`);
  member.endpoints.forEach((endpoint, i) => requireEndpoint(endpoint, `${field}.endpoints[${i}]`));
  requireEnumList(member.roles, MemberRole, `${field}.roles`);
  if (member.libp2pPeerId !== '') {
    optionalText(member.libp2pPeerId, `${field}.libp2pPeerId`, identifierCharsMax);
    if (!peerIdPattern.test(member.libp2pPeerId)) {
      throw new ValidationError(`${field}.libp2pPeerId`, 'must be letters and digits (base58btc or base32)');
    }
  }
  if (member.tlsCertificate.length > 0) requireDer(member.tlsCertificate, `${field}.tlsCertificate`, certificateBytesMax);
  requireList(member.gossipAddresses, `${field}.gossipAddresses`);
  member.gossipAddresses.forEach((address, i) => {
    requireText(address, `${field}.gossipAddresses[${i}]`);
    if (!address.startsWith('/')) throw new ValidationError(`${field}.gossipAddresses[${i}]`, 'must be a libp2p multiaddr starting with /');
  });
}

export function validateMemberAdmission(admission: MemberAdmission, field: string): void {
  if (!admission.member) throw new ValidationError(`${field}.member`, 'missing');
  validateMember(admission.member, `${field}.member`);
  requireSignature(admission.possessionSignature, `${field}.possessionSignature`);
}

export function validateRecognitionPolicy(policy: RecognitionPolicy, field: string): void {
  requireList(policy.rules, `${field}.rules`);
  policy.rules.forEach((rule, i) => {
    const at = `${field}.rules[${i}]`;
    requireEnum(rule.listType, ListType, `${at}.listType`);
    if (rule.grounds.length > 0) requireEnumList(rule.grounds, GroundsCategory, `${at}.grounds`);
    if (rule.minRestrictionMs < 0n) throw new ValidationError(`${at}.minRestrictionMs`, 'must not be negative');
  });
}

export function validateSanctionOptOut(optOut: SanctionOptOut, field: string): void {
  requireBytes(optOut.issuer, `${field}.issuer`, digestBytes);
  requireIdentifier(optOut.sanctionId, `${field}.sanctionId`);
  requireText(optOut.reason, `${field}.reason`);
}

export function requireEndpoint(endpoint: string, field: string): void {
  requireText(endpoint, field);
  const match = endpointPattern.exec(endpoint);
  const port = match ? Number(match[3]) : 0;
  if (port < 1 || port > 65535) throw new ValidationError(field, 'must be host:port with a port 1-65535');
}

export function validateKeyRotation(rotation: KeyRotation, field: string): void {
  requireBytes(rotation.nodeId, `${field}.nodeId`, digestBytes);
  requirePublicKey(rotation.newPublicKey, `${field}.newPublicKey`);
  requireSignature(rotation.newKeySignature, `${field}.newKeySignature`);
  if (rotation.newTlsCertificate.length > 0) requireDer(rotation.newTlsCertificate, `${field}.newTlsCertificate`, certificateBytesMax);
}

export function validateGovernanceProposal(proposal: GovernanceProposal, field: string): void {
  requireText(proposal.reason, `${field}.reason`);
  const action = proposal.action;
  if (!action) throw new ValidationError(`${field}.action`, 'missing');
  const at = `${field}.${action.$case}`;
  switch (action.$case) {
    case 'addMember':
      return validateMemberAdmission(action.value, at);
    case 'updateMember':
      return validateMember(action.value, at);
    case 'changeRecognition':
      return validateRecognitionPolicy(action.value, at);
    case 'liftSanction':
      requireBytes(action.value.issuer, `${at}.issuer`, digestBytes);
      return requireIdentifier(action.value.sanctionId, `${at}.sanctionId`);
    case 'suspendMember':
    case 'reinstateMember':
    case 'removeMember':
    case 'distrustCa':
      return requireBytes(action.value, at, digestBytes); // node id or CA fingerprint: SM3
    case 'trustCa':
      return requireDer(action.value, at, certificateBytesMax);
    case 'changeRoles':
      requireBytes(action.value.nodeId, `${at}.nodeId`, digestBytes);
      return requireEnumList(action.value.roles, MemberRole, `${at}.roles`);
    case 'changeQuorum':
      if (action.value < 1) throw new ValidationError(at, 'must be at least 1');
      return;
    case 'rotateKey':
      return validateKeyRotation(action.value, at);
    case 'changeCreditPolicy':
      return validateCreditPolicy(action.value, at);
  }
  throw new ValidationError(`${field}.action`, `missing (unknown action '${String((action as { $case: unknown }).$case)}')`);
}

export function validateGovernanceApproval(approval: GovernanceApproval, field: string): void {
  requireBytes(approval.proposalHash, `${field}.proposalHash`, digestBytes);
}

// ---- Remote evaluation ----

/** A score above 1000 points is a typing error, not a scoring scheme. */
const scoreHundredthsMax = 100_000;

/** Node ids and hosts: SM3 digests. */
const requireNodeId = (bytes: Uint8Array, field: string): void => requireBytes(bytes, field, digestBytes);

function requireUsccList(usccs: readonly string[], field: string, min: number, max: number): void {
  requireList(usccs, field, min, max);
  usccs.forEach((uscc, i) => requireUscc(uscc, `${field}[${i}]`));
  requireDistinct(usccs, field);
}

export function validateEvaluationSession(session: EvaluationSession, field: string): void {
  requireIdentifier(session.sessionId, `${field}.sessionId`);
  requireIdentifier(session.projectCode, `${field}.projectCode`);
  optionalText(session.projectName, `${field}.projectName`);
  requireUsccList(session.bidderUsccs, `${field}.bidderUsccs`, 1, evaluationBiddersMax);
  requireUsccList(session.tendererUsccs, `${field}.tendererUsccs`, 1, listItemsMax);
  requireUsccList(session.agencyUsccs, `${field}.agencyUsccs`, 0, listItemsMax);
  requireList(session.requirements, `${field}.requirements`, 1);
  let seats = 0;
  session.requirements.forEach((requirement, i) => {
    requireSpecialtyCode(requirement.specialtyCode, `${field}.requirements[${i}].specialtyCode`);
    if (requirement.count < 1) throw new ValidationError(`${field}.requirements[${i}].count`, 'must be at least 1');
    seats += requirement.count;
  });
  requireDistinct(session.requirements.map((r) => r.specialtyCode), `${field}.requirements`);
  if (seats > panelSeatsMax) throw new ValidationError(`${field}.requirements`, `${seats} seats in all, panelSeatsMax ${panelSeatsMax}`);
  requirePeriod(session.window, `${field}.window`);
  requireList(session.cityQuotas, `${field}.cityQuotas`);
  session.cityQuotas.forEach((quota, i) => {
    requireRegionCode(quota.regionCode, `${field}.cityQuotas[${i}].regionCode`);
    if (quota.expertsMax < 1) throw new ValidationError(`${field}.cityQuotas[${i}].expertsMax`, 'must be at least 1 (leave the city out, or use otherCitiesOnly, to exclude it)');
  });
  requireDistinct(session.cityQuotas.map((q) => q.regionCode), `${field}.cityQuotas`);
  requireRegionCode(session.hostRegionCode, `${field}.hostRegionCode`);
  requireBytes(session.seedCommitment, `${field}.seedCommitment`, digestBytes);
}

export function validateEvaluationDraw(draw: EvaluationDraw, field: string): void {
  requireIdentifier(draw.sessionId, `${field}.sessionId`);
  requireBytes(draw.seed, `${field}.seed`, drawSeedBytes);
  // One position per member: bounded by the membership and entryBytesMax, not by listItemsMax.
  requireList(draw.basis, `${field}.basis`, 1, Number.MAX_SAFE_INTEGER);
  draw.basis.forEach((position, i) => {
    requireNodeId(position.author, `${field}.basis[${i}].author`);
    if (position.seq < 1n) throw new ValidationError(`${field}.basis[${i}].seq`, 'must be at least 1');
  });
  requireDistinct(draw.basis.map((p) => Buffer.from(p.author).toString('hex')), `${field}.basis`);
  requireList(draw.orders, `${field}.orders`, 1);
  let listed = 0;
  draw.orders.forEach((order, i) => {
    const at = `${field}.orders[${i}]`;
    order.expertRefs.forEach((ref, j) => requireExpertRef(ref, `${at}.expertRefs[${j}]`));
    order.excluded.forEach((excluded, j) => {
      requireExpertRef(excluded.expertRef, `${at}.excluded[${j}].expertRef`);
      requireEnum(excluded.reason, Exclusion, `${at}.excluded[${j}].reason`);
    });
    requireDistinct([...order.expertRefs, ...order.excluded.map((e) => e.expertRef)], `${at}.expertRefs`);
    listed += order.expertRefs.length + order.excluded.length;
  });
  if (listed > drawListedExpertsMax) throw new ValidationError(`${field}.orders`, `${listed} experts listed, drawListedExpertsMax ${drawListedExpertsMax}`);
}

export function validateExpertLease(lease: ExpertLease, field: string): void {
  requireExpertRef(lease.expertRef, `${field}.expertRef`);
  requireNodeId(lease.host, `${field}.host`);
  requireIdentifier(lease.sessionId, `${field}.sessionId`);
  requirePeriod(lease.slot, `${field}.slot`);
  if (lease.granted && lease.refusalReason !== '') throw new ValidationError(`${field}.refusalReason`, 'must be empty for a grant');
  if (!lease.granted) requireText(lease.refusalReason, `${field}.refusalReason`);
}

export function validateEvaluationOutcome(outcome: EvaluationOutcome, field: string): void {
  requireIdentifier(outcome.sessionId, `${field}.sessionId`);
  if (outcome.requirementIndex >= listItemsMax) {
    throw new ValidationError(`${field}.requirementIndex`, `${outcome.requirementIndex} is beyond listItemsMax ${listItemsMax} requirements`);
  }
  requireExpertRef(outcome.expertRef, `${field}.expertRef`);
  requireEnum(outcome.outcome, LeaseOutcome, `${field}.outcome`);
  optionalText(outcome.reason, `${field}.reason`);
  requireNodeId(outcome.homeNode, `${field}.homeNode`);
  const unreachable = outcome.outcome === LeaseOutcome.LEASE_OUTCOME_UNREACHABLE;
  if (unreachable && outcome.leaseSeq !== 0n) throw new ValidationError(`${field}.leaseSeq`, 'must be 0 when the home node was unreachable');
  if (!unreachable && outcome.leaseSeq < 1n) throw new ValidationError(`${field}.leaseSeq`, "missing: a grant or refusal names the home node's lease entry");
}

export function validateScoreSheet(sheet: ScoreSheet, field: string): void {
  requireNodeId(sheet.host, `${field}.host`);
  requireIdentifier(sheet.sessionId, `${field}.sessionId`);
  requireExpertRef(sheet.expertRef, `${field}.expertRef`);
  requireList(sheet.scores, `${field}.scores`, 1, evaluationBiddersMax);
  sheet.scores.forEach((score, i) => {
    requireUscc(score.bidderUscc, `${field}.scores[${i}].bidderUscc`);
    if (score.scoreHundredths > scoreHundredthsMax) {
      throw new ValidationError(`${field}.scores[${i}].scoreHundredths`, `${score.scoreHundredths} is above ${scoreHundredthsMax} (1000 points)`);
    }
  });
  requireDistinct(sheet.scores.map((s) => s.bidderUscc), `${field}.scores`);
  requireTime(sheet.signedAtMs, `${field}.signedAtMs`);
}

/** The sheet's signature is checked by the views (a well-formed record may still carry a bad one). */
export function validateEvaluationScore(score: EvaluationScore, field: string): void {
  if (score.sheet.length === 0) throw new ValidationError(`${field}.sheet`, 'missing');
  let sheet: ScoreSheet;
  try {
    sheet = ScoreSheet.decode(score.sheet);
  } catch (error) {
    throw new ValidationError(`${field}.sheet`, `not a ScoreSheet (${(error as Error).message})`);
  }
  validateScoreSheet(sheet, `${field}.sheet`);
  requireSignature(score.signature, `${field}.signature`);
  requireDer(score.certificateDer, `${field}.certificateDer`, certificateBytesMax);
}

// ---- Credit records (信用记录) ----

/** Mutual evaluations are 1 (poor) to 5 (excellent) stars. */
const starsMax = 5;

/**
 * What every credit record carries. An expert subject is rated as an expert
 * and an entity in one of the three entity roles, so the four subject kinds of
 * the index cannot be confused; `projectCode` is required where the record is
 * about one transaction.
 */
export function validateCreditRecordHeader(header: CreditRecordHeader | undefined, field: string, projectRequired = false): void {
  if (!header) throw new ValidationError(field, 'missing');
  requireIdentifier(header.recordId, `${field}.recordId`);
  validateSanctionSubject(header.subject, `${field}.subject`);
  requireEnum(header.subjectRole, CreditRole, `${field}.subjectRole`);
  const expert = header.subject!.id!.$case === 'expertRef';
  if (expert !== (header.subjectRole === CreditRole.CREDIT_ROLE_EXPERT)) {
    throw new ValidationError(`${field}.subjectRole`, expert ? 'must be CREDIT_ROLE_EXPERT for an expert subject' : 'CREDIT_ROLE_EXPERT needs an expertRef subject');
  }
  requirePeriod(header.recordPeriod, `${field}.recordPeriod`);
  requireText(header.decidingAuthority, `${field}.decidingAuthority`);
  if (header.documentCode !== '') requireIdentifier(header.documentCode, `${field}.documentCode`);
  if (projectRequired || header.projectCode !== '') requireIdentifier(header.projectCode, `${field}.projectCode`);
}

export function validatePerformanceEvaluation(evaluation: PerformanceEvaluation, field: string): void {
  validateCreditRecordHeader(evaluation.header, `${field}.header`, true);
  requireEnum(evaluation.grade, PerformanceGrade, `${field}.grade`);
  requireUscc(evaluation.evaluatorUscc, `${field}.evaluatorUscc`);
  optionalText(evaluation.summary, `${field}.summary`);
}

export function validateVenueMisconduct(misconduct: VenueMisconduct, field: string): void {
  validateCreditRecordHeader(misconduct.header, `${field}.header`);
  requireEnum(misconduct.severity, MisconductSeverity, `${field}.severity`);
  requireText(misconduct.behaviour, `${field}.behaviour`);
  optionalText(misconduct.basis, `${field}.basis`);
}

/** Who rated whom in which transaction: never oneself. */
export function validateMutualEvaluation(evaluation: MutualEvaluation, field: string): void {
  validateCreditRecordHeader(evaluation.header, `${field}.header`, true);
  validateSanctionSubject(evaluation.rater, `${field}.rater`);
  requireEnum(evaluation.raterRole, CreditRole, `${field}.raterRole`);
  const rater = evaluation.rater!.id!;
  const subject = evaluation.header!.subject!.id!;
  if (rater.$case === subject.$case && rater.value === subject.value) throw new ValidationError(`${field}.rater`, 'a subject does not rate itself');
  if (evaluation.stars < 1 || evaluation.stars > starsMax) throw new ValidationError(`${field}.stars`, `${evaluation.stars} is not 1-${starsMax}`);
  optionalText(evaluation.comment, `${field}.comment`);
}

export function validateThirdPartyRating(rating: ThirdPartyRating, field: string): void {
  validateCreditRecordHeader(rating.header, `${field}.header`);
  requireText(rating.ratingAgency, `${field}.ratingAgency`);
  requireUscc(rating.ratingAgencyUscc, `${field}.ratingAgencyUscc`);
  requireEnum(rating.grade, RatingGrade, `${field}.grade`);
}

export function validateHonourEntry(honour: HonourEntry, field: string): void {
  validateCreditRecordHeader(honour.header, `${field}.header`);
  requireEnum(honour.kind, HonourKind, `${field}.kind`);
  requireText(honour.title, `${field}.title`);
}

export function validateCreditLift(lift: CreditLift, field: string): void {
  requireIdentifier(lift.recordId, `${field}.recordId`);
  requireEnum(lift.reason, LiftReason, `${field}.reason`);
  requireText(lift.explanation, `${field}.explanation`);
  requireTime(lift.effectiveAtMs, `${field}.effectiveAtMs`);
}
