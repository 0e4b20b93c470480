import type { ImportItem, RowError } from '../../gen/tongxing/api/v1/transfer.js';
import { recordCertificate, serialNumberKey } from '../../federation/certificates.js';
import { parseCrl } from '../../federation/crypto/crl.js';
import { sm3Hex } from '../../federation/crypto/sm3.js';
import { EncodingError, ValidationError } from '../../federation/errors.js';
import { validateCertificateRecord, validateCertificateRevocationList, validateEntityProfile, validateExpertProfile, validateSanctionIssue } from '../../federation/records/validate.js';
import { checkPersonal } from './expert.js';

// The rows each import kind holds and the checks a row passes without looking
// at this node's state: the record's own rules, and the key the row is unique
// by within its import (and locked by while it commits).

export type ImportKind = 'entities' | 'sanctions' | 'certificates' | 'experts';

type ItemCase = NonNullable<ImportItem['item']>['$case'];

/** The row cases an import of each kind holds (a certificate import carries CRLs too). */
export const rowCases: Readonly<Record<ImportKind, readonly ItemCase[]>> = {
  entities: ['entity'],
  sanctions: ['sanction'],
  certificates: ['certificate', 'crl'],
  experts: ['expert'],
};

/** What staging needs beyond the rows: an expert's ref is derived by this node (its id and secret salt), never sent. */
export interface RowContext {
  readonly expertRefOf?: (idCardNumber: string) => string;
}

/** A row as it is kept (expert rows with their ref derived), and the key it is unique by. */
export type CheckedRow = { readonly item: ImportItem; readonly key: string } | { readonly error: Omit<RowError, 'row'> };

/** Certificate rows are keyed `<issuer name hash>/<serial>`, CRL rows `crl/<SM3 of the DER>`; the prefix tells them apart. */
export const crlKeyPrefix = 'crl/';

/** Characters of a row's key, for callers that estimate staged bytes before sending (stagedBytesOf). */
export function rowKeyCharsOf(item: ImportItem): number {
  const row = item.item;
  switch (row?.$case) {
    case 'entity':
      return row.value.uscc.length;
    case 'sanction':
      return row.value.sanctionId.length;
    case 'certificate':
      return 64 + 1 + 40;
    case 'crl':
      return crlKeyPrefix.length + 64;
    case 'expert':
      return 26;
    default:
      return 0;
  }
}

/** The stateless checks of one row of a `kind` import. */
export function checkRow(kind: ImportKind, item: ImportItem, context: RowContext): CheckedRow {
  const row = item.item;
  if (!row || !rowCases[kind].includes(row.$case)) {
    const wanted = rowCases[kind];
    return { error: { field: wanted[0]!, reason: `missing: an import of ${kind} holds ${wanted.join(' or ')} rows` } };
  }
  try {
    switch (row.$case) {
      case 'entity':
        validateEntityProfile(row.value, 'profile');
        return { item, key: row.value.uscc };
      case 'sanction':
        validateSanctionIssue(row.value, 'sanction');
        return { item, key: row.value.sanctionId };
      case 'certificate': {
        validateCertificateRecord(row.value, 'certificate');
        const leaf = recordCertificate(row.value);
        if (!('ok' in leaf)) return { error: { field: 'certificate.certificateDer', reason: leaf.message } };
        return { item, key: `${leaf.ok.issuerNameHash}/${serialNumberKey(leaf.ok.serialNumber)}` };
      }
      case 'crl': {
        validateCertificateRevocationList(row.value, 'crl');
        try {
          parseCrl(row.value.crlDer);
        } catch (error) {
          if (error instanceof EncodingError) return { error: { field: 'crl.crlDer', reason: `CRL: ${error.message}` } };
          throw error;
        }
        return { item, key: `${crlKeyPrefix}${sm3Hex(row.value.crlDer)}` };
      }
      case 'expert': {
        const personal = checkPersonal(row.value.personal);
        const profile = row.value.profile;
        if (!profile) return { error: { field: 'profile', reason: 'missing' } };
        if (profile.expertRef !== '') return { error: { field: 'profile.expertRef', reason: 'leave empty: the home node derives the pseudonymous ref' } };
        if (!context.expertRefOf) throw new Error('an expert import is staged with the node\'s expertRefOf');
        const expertRef = context.expertRefOf(personal.idCardNumber);
        validateExpertProfile({ ...profile, expertRef }, 'profile');
        return { item: { item: { $case: 'expert', value: { personal, profile: { ...profile, expertRef } } } }, key: expertRef };
      }
    }
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return { error: { field: error.field, reason: error.reason } };
  }
}

/** The field a duplicate key is reported on, and how the key reads to people. */
export function duplicateOf(item: ImportItem, key: string): { field: string; what: string } {
  switch (item.item?.$case) {
    case 'entity':
      return { field: 'profile.uscc', what: key };
    case 'sanction':
      return { field: 'sanction.sanctionId', what: key };
    case 'certificate':
      return { field: 'certificate.certificateDer', what: `certificate serial ${key.slice(key.indexOf('/') + 1)}` };
    case 'crl':
      return { field: 'crl.crlDer', what: 'this CRL' };
    default:
      return { field: 'personal.idCardNumber', what: 'this ID card number' };
  }
}
