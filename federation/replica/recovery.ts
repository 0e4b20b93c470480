import type { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { SignatureError } from '../errors.js';
import { LogWriter } from '../log/writer.js';
import type { Verdict } from './sync.js';
import type { CoreState } from './state.js';

// Logs this node must recover before it may go on: its own (after losing its
// data directory), and members' logs across a key rotation it has not learned.

/**
 * A peer holds more of this node's own log than its store does: the data
 * directory was lost or restored from an old backup. Writing now would sign
 * a second history (an equivocation), so writes are refused until the own
 * log is pulled back like any other member's; the writer then continues it.
 */
export function ownHead(core: CoreState, signed: SignedHead, source: string | undefined, orderPull: (author: string) => void): Verdict {
  const seq = Number(signed.head!.seq);
  if (seq <= core.writer.tip.seq) return 'ignore';
  const known = core.known.get(core.nodeId);
  if (!known || seq > Number(known.head!.seq)) core.known.set(core.nodeId, signed);
  if (source !== undefined) core.sources.set(core.nodeId, source);
  orderPull(core.nodeId);
  return 'accept';
}

/** Once the own log is stored back, the writer continues it (called when a pull of it ends). */
export function resumeOwnLog(core: CoreState): void {
  const tip = core.tips.get(core.nodeId);
  if (!tip || tip.seq <= core.writer.tip.seq || core.writer.pendingCount > 0) return;
  const head = core.served.get(core.nodeId)!.head!;
  core.writer = new LogWriter(core.init.allianceId, core.writerKey, { seq: tip.seq, hash: tip.hash, hlc: head.hlc }, core.nodeId);
}

/** Why local writes are refused while the own log is behind what peers hold, if they are. */
export function ownLogBehind(core: CoreState): string | undefined {
  const known = Number(core.known.get(core.nodeId)?.head?.seq ?? 0);
  if (known <= core.writer.tip.seq) return undefined;
  return `this node's own log is being recovered from peers (stored seq ${core.writer.tip.seq}, peers hold ${known}): writes resume when it is back`;
}

/**
 * A node that missed a member's key rotation cannot verify the member's
 * newer heads, and the rotation itself is in the entries those heads cover.
 * The older batch heads, signed with the key it knows, are still stored
 * everywhere: ask for less, ending on an older stored head (the serving side
 * ends each chunk on one), ingest, and once governance has applied the
 * rotation the rest verifies as usual. Returns the smaller upper bound to
 * ask for, or undefined when stepping down cannot help.
 */
export function stepDownTo(error: unknown, afterSeq: number, upToSeq: number): number | undefined {
  if (!(error instanceof SignatureError) || upToSeq - afterSeq <= 1) return undefined;
  return Math.floor((afterSeq + upToSeq) / 2);
}
