/** Where a record stands: its author's log and position, and its clock. */
export interface Provenance {
  readonly author: string;
  readonly seq: number;
  /** Decimal hybrid logical clock (JSON has no bigint). */
  readonly hlc: string;
}

/** Total order of records across logs: (hlc, author, seq). The same on every node. */
export function compareProvenance(a: Provenance, b: Provenance): number {
  const ha = BigInt(a.hlc);
  const hb = BigInt(b.hlc);
  if (ha !== hb) return ha < hb ? -1 : 1;
  if (a.author !== b.author) return a.author < b.author ? -1 : 1;
  return a.seq - b.seq;
}

/** Key components may hold any text (sanction ids, expert refs): escape the separator. */
export const keyPart = (text: string): string => encodeURIComponent(text);

export function encodeView(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}

export function decodeView<T>(bytes: Uint8Array | undefined): T | undefined {
  return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString()) as T);
}
