// The rules of pull streams that every PeerTransport and every peer server
// apply alike (node/peer/{client,server}.ts, simulations/transport.ts,
// testing/bus.ts), stated once: how many pulls of one member run at once,
// and the bounds a pulled chunk keeps. Pure: no timers, only promises.

import { assert, LimitError } from './errors.js';
import { entryBytesMax, pullsInFlightPerPeerMax, rangeEntriesMax } from './limits.js';

interface Slots {
  active: number;
  /** Waiting acquires, longest first: each is handed a slot as one is released (true), or told of close() (false). */
  readonly waiting: Array<(granted: boolean) => void>;
}

/**
 * The caller's side: at most pullsInFlightPerPeerMax pulls to one peer run at
 * once; later ones wait, and start in the order they asked, as running ones
 * end. So an honest caller never meets the server's refusal (PullsServed).
 */
export class PullSlots {
  readonly #peers = new Map<string, Slots>();
  #closed = false;

  /** Waits for a free slot of `peer` and takes it: true; false once close() was called (nothing taken). */
  async acquire(peer: string): Promise<boolean> {
    if (this.#closed) return false;
    let slots = this.#peers.get(peer);
    if (slots === undefined) {
      slots = { active: 0, waiting: [] };
      this.#peers.set(peer, slots);
    }
    if (slots.active < pullsInFlightPerPeerMax) {
      slots.active++;
      return true;
    }
    return new Promise<boolean>((granted) => slots.waiting.push(granted));
  }

  /**
   * Gives back a slot taken by acquire(). The longest waiting pull of `peer`
   * is handed it at once, so no later acquire can take it first.
   */
  release(peer: string): void {
    const slots = this.#peers.get(peer);
    assert(slots !== undefined && slots.active > 0, `release of a pull slot of ${peer.slice(0, 12)} that was not taken`);
    const next = slots.waiting.shift();
    if (next !== undefined) return next(true);
    slots.active--;
    if (slots.active === 0) this.#peers.delete(peer);
  }

  /** Every waiting acquire() returns false, and so do later ones. Slots taken stay taken until released. */
  close(): void {
    this.#closed = true;
    for (const slots of this.#peers.values()) for (const granted of slots.waiting.splice(0)) granted(false);
  }
}

/**
 * The server's side: pulls served to one caller at once. A caller that keeps
 * to PullSlots never exceeds pullsInFlightPerPeerMax, so beyond it the caller
 * is misbehaving and is refused rather than queued.
 */
export class PullsServed {
  readonly #byCaller = new Map<string, number>();

  /** Counts a pull of `caller`; throws LimitError (with the numbers) when it already has pullsInFlightPerPeerMax. */
  admit(caller: string): void {
    const inFlight = this.#byCaller.get(caller) ?? 0;
    if (inFlight >= pullsInFlightPerPeerMax) {
      throw new LimitError(`${inFlight} pulls in flight from ${caller.slice(0, 12)}; pullsInFlightPerPeerMax ${pullsInFlightPerPeerMax}`);
    }
    this.#byCaller.set(caller, inFlight + 1);
  }

  /** A pull admitted for `caller` has ended. */
  release(caller: string): void {
    const left = (this.#byCaller.get(caller) ?? 0) - 1;
    if (left <= 0) this.#byCaller.delete(caller);
    else this.#byCaller.set(caller, left);
  }
}

/**
 * Bounds on what a peer sends in a pull, checked as it arrives: a chunk of at
 * most rangeEntriesMax entries (one verification step), each at most
 * entryBytesMax. `receivedBefore` counts the chunk's entries already received
 * in earlier messages (a transport that splits chunks). LimitError otherwise:
 * the peer broke the protocol.
 */
export function checkPulledEntries(entries: readonly Uint8Array[], receivedBefore = 0): void {
  for (const entry of entries) {
    if (entry.length > entryBytesMax) throw new LimitError(`pulled entry of ${entry.length} bytes exceeds entryBytesMax ${entryBytesMax}`);
  }
  const total = receivedBefore + entries.length;
  if (total > rangeEntriesMax) throw new LimitError(`pulled chunk of ${receivedBefore > 0 ? 'over ' : ''}${total} entries exceeds rangeEntriesMax ${rangeEntriesMax}`);
}
