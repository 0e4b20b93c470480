// Hybrid logical clock (Kulkarni et al. 2014) packed in one uint64:
// upper 48 bits wall-clock milliseconds, lower 16 bits a counter. It orders
// events causally across nodes while staying close to real time, so "earliest
// registration" and "last write wins" are decided without a coordinator.

const counterBits = 16n;
const counterMask = (1n << counterBits) - 1n;

export function hlcPack(wallMs: number, counter: number): bigint {
  return (BigInt(wallMs) << counterBits) | BigInt(counter);
}

export function hlcWallMs(hlc: bigint): number {
  return Number(hlc >> counterBits);
}

export function hlcCounter(hlc: bigint): number {
  return Number(hlc & counterMask);
}

/** The clock value for a local event (a new entry) after `last`, at wall time `wallMs`. */
export function hlcTick(last: bigint, wallMs: number): bigint {
  const lastMs = hlcWallMs(last);
  if (wallMs > lastMs) return hlcPack(wallMs, 0);
  const counter = hlcCounter(last) + 1;
  // Counter overflow borrows the next millisecond rather than wrapping.
  return counter > Number(counterMask) ? hlcPack(lastMs + 1, 0) : hlcPack(lastMs, counter);
}

/** Merge a received clock value, so the next local event orders after it. */
export function hlcObserve(local: bigint, received: bigint): bigint {
  return received > local ? received : local;
}
