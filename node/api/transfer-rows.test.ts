import { describe, expect, it } from 'vitest';
import type { ImportItem } from '../../gen/tongxing/api/v1/transfer.js';
import { entityProfile, expertProfile, residentId, usccFor } from '../../federation/testing/records.js';
import { StagedImport } from './transfer-imports.js';
import { checkRow } from './transfer-rows.js';

// The stateless checks of the new import kinds: an expert row gets the ref its
// home node derives (never one the client sends), duplicates are found by
// person, a row of another kind is refused naming the kinds the import holds,
// and a dry run's verification marks stay as rows are staged after it.

const person = (sequence: number) => ({ idCardNumber: residentId('530102', '19750312', sequence).toLowerCase(), name: '张国强', phone: '13888123456', birthday: '', employerName: '' });
const expertRow = (sequence: number, expertRef = ''): ImportItem => ({ item: { $case: 'expert', value: { personal: person(sequence), profile: { ...expertProfile('x'), expertRef } } } });
const context = { expertRefOf: (id: string) => `e-${id.slice(-12).toLowerCase().padStart(24, '0')}` };

describe('import rows', () => {
  it('an expert row is kept with the ref derived here and its ID number normalised; a ref sent by the client is refused', () => {
    const checked = checkRow('experts', expertRow(41), context);
    expect('item' in checked).toBe(true);
    const kept = (checked as { item: ImportItem }).item.item;
    expect(kept?.$case === 'expert' && kept.value.profile!.expertRef).toBe(context.expertRefOf(person(41).idCardNumber.toUpperCase()));
    expect(kept?.$case === 'expert' && kept.value.personal!.idCardNumber).toMatch(/^[0-9]{17}[0-9X]$/);
    expect(kept?.$case === 'expert' && kept.value.personal!.birthday).toBe('1975-03-12');
    expect(checkRow('experts', expertRow(41, 'e-000000000000000000000001'), context)).toEqual({ error: { field: 'profile.expertRef', reason: 'leave empty: the home node derives the pseudonymous ref' } });
  });

  it('the same person twice in an import is a row error naming the earlier row; nothing is kept', () => {
    const staged = new StagedImport('experts', undefined, context);
    const errors = staged.stage([expertRow(41), expertRow(26), expertRow(41)], 0);
    expect(errors).toEqual([{ row: 2, field: 'personal.idCardNumber', reason: 'this ID card number is also row 0: each appears once in an import' }]);
  });

  it('a row of another kind is refused, naming what the import holds', () => {
    const entity: ImportItem = { item: { $case: 'entity', value: entityProfile(usccFor(1)) } };
    expect(checkRow('certificates', entity, {})).toEqual({ error: { field: 'certificate', reason: 'missing: an import of certificates holds certificate or crl rows' } });
    expect(checkRow('certificates', { item: { $case: 'certificate', value: { certificateDer: Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), holder: { $case: 'entityUscc', value: usccFor(1) }, usccOverride: undefined, intermediatesDer: [] } } }, {})).toMatchObject({
      error: { field: 'certificate.certificateDer' },
    });
  });

  it('keeps a dry run’s verification marks when more rows are staged after it', () => {
    const entity = (n: number): ImportItem => ({ item: { $case: 'entity', value: entityProfile(usccFor(n)) } });
    const staged = new StagedImport('entities');
    staged.stage([entity(1), entity(2)], 0);
    staged.markVerified(1);
    staged.stage(Array.from({ length: 30 }, (_, i) => entity(10 + i)), 2);
    staged.markVerified(31);
    expect([0, 1, 2, 30, 31].map((row) => staged.isVerified(row))).toEqual([false, true, false, false, true]);
  });
});
