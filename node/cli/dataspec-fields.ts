import { ValidationError } from '../../federation/errors.js';
import type { DataSpecRow } from '../../federation/records/dataspec.js';

// Reading one field of a data-specification row, for the CLI's certificate
// manifest and expert rows: the same rules as federation/records/dataspec.ts
// applies to entity and sanction rows (whose helpers are private to it; once
// it exports them, these go). A field that cannot be read is a ValidationError
// naming the row field.

export function text(row: DataSpecRow, field: string): string {
  const value = row[field];
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new ValidationError(field, `must be text, got ${Array.isArray(value) ? 'a list' : typeof value}`);
}

/** A JSON array of text, or text separated by , ， 、 ; or ；. */
export function list(row: DataSpecRow, field: string): string[] {
  const value = row[field];
  const items = Array.isArray(value) ? value : text(row, field).split(/[,，、;；]/);
  return items.map((item, i) => {
    if (typeof item !== 'string' && typeof item !== 'number') throw new ValidationError(field, `item ${i} must be text`);
    return String(item).trim();
  }).filter((item) => item !== '');
}

