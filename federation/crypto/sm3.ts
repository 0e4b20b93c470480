// SM3 (GB/T 32905) through Node's native OpenSSL binding. The one-shot
// crypto.hash (Node >= 20.12) avoids a Hash object per call: entries are
// hashed one by one on ingest, so the per-call cost is what counts.
import { createHash, hash } from 'node:crypto';

const oneShot = typeof hash === 'function';

export function sm3(data: Uint8Array): Buffer {
  return oneShot ? (hash('sm3', data, 'buffer') as unknown as Buffer) : createHash('sm3').update(data).digest();
}

/** Lowercase hex, the form used for hashes in records, node ids and logs. */
export function sm3Hex(data: Uint8Array): string {
  return oneShot ? hash('sm3', data, 'hex') : createHash('sm3').update(data).digest('hex');
}

/** SM3 over data given in pieces (a file streamed through), for inputs too large to hold at once. */
export function sm3Stream(): { update(data: Uint8Array): void; digest(): Buffer } {
  const state = createHash('sm3');
  return {
    update: (data) => void state.update(data),
    digest: () => state.digest(),
  };
}
