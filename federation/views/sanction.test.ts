import { describe, expect, it } from 'vitest';
import type { Record } from '../../gen/tongxing/records/v1/records.js';
import { hlcPack } from '../log/hlc.js';
import { sanctionIssue, sanctionLift, usccFor } from '../testing/records.js';
import { planViews, rejectionKey } from './apply.js';
import { decodeView } from './provenance.js';
import { issueRefusal, liftRefusal, sanctionKey, type SanctionView } from './sanction.js';

const issuer = 'a'.repeat(64);
const now = Date.UTC(2025, 5, 1, 2);

/** One issuer's log applied entry by entry, as planViews applies it on every node. */
class Log {
  readonly state = new Map<string, Uint8Array>();
  seq = 0;
  async add(record: Record): Promise<number> {
    const seq = ++this.seq;
    const changes = await planViews([{ author: issuer, seq, hlc: hlcPack(now, seq), hash: Buffer.alloc(32), record }], async (keys) => keys.map((k) => this.state.get(k)));
    for (const c of changes) this.state.set(c.key, c.value!);
    return seq;
  }
  view(id: string): SanctionView | undefined {
    return decodeView<SanctionView>(this.state.get(sanctionKey(issuer, id)));
  }
  rejection(seq: number): string | undefined {
    return decodeView<{ reason: string }>(this.state.get(rejectionKey(issuer, seq)))?.reason;
  }
}

describe('sanction view: an id is issued once and lifted once, after its issue', () => {
  it('refuses a lift before the issue, a second issue and a second lift, and the views reject exactly those', async () => {
    const log = new Log();
    expect(liftRefusal(log.view('S-1'))).toEqual({ refusal: 'not-issued' });
    expect(log.rejection(await log.add(sanctionLift('S-1', now)))).toMatch(/no sanction S-1 issued by this member to lift/);

    expect(issueRefusal(log.view('S-1'))).toBeUndefined();
    const issued = await log.add(sanctionIssue('S-1', usccFor(1), now));
    expect(log.rejection(issued)).toBeUndefined();
    expect(issueRefusal(log.view('S-1'))).toMatchObject({ refusal: 'already-issued', sanction: { issued: { author: issuer, seq: issued } } });
    expect(log.rejection(await log.add(sanctionIssue('S-1', usccFor(2), now)))).toMatch(/already issued by this member/);
    expect(log.view('S-1')!.issued.seq).toBe(issued);

    expect(liftRefusal(log.view('S-1'))).toBeUndefined();
    const lifted = await log.add(sanctionLift('S-1', now + 1));
    expect(log.rejection(lifted)).toBeUndefined();
    expect(liftRefusal(log.view('S-1'))).toEqual({ refusal: 'already-lifted', lifted: expect.objectContaining({ seq: lifted }) });
    expect(log.rejection(await log.add(sanctionLift('S-1', now + 2)))).toMatch(/already lifted/);
  });
});
