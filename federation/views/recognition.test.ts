import { describe, expect, it } from 'vitest';
import { GroundsCategory, ListType, type RecognitionPolicy } from '../../gen/tongxing/records/v1/records.js';
import { sanction } from '../testing/records.js';
import { applyOptOut, recognise } from './recognition.js';
import type { Sanction } from './sanction.js';

const day = 86_400_000;
const t0 = Date.UTC(2026, 0, 1);
const issuer = 'a'.repeat(64);
const self = 'b'.repeat(64);
const at = (seq: number) => ({ author: self, seq, hlc: String(BigInt(t0 + seq) << 16n) });

function issued(edit: (s: Sanction['issue']) => void = () => {}): Sanction {
  const issue = sanction('KM-1', '91350100M000100Y43', t0, 730);
  edit(issue);
  return { issue, issued: { author: issuer, seq: 1, hlc: '1' } };
}

// The MDB cross-debarment rule, roughly: serious dishonesty for fraud, corruption, collusion or coercion, over a year.
const mdb: RecognitionPolicy = {
  rules: [
    {
      listType: ListType.LIST_TYPE_SERIOUS_DISHONESTY,
      grounds: [GroundsCategory.GROUNDS_CATEGORY_FRAUD, GroundsCategory.GROUNDS_CATEGORY_CORRUPTION, GroundsCategory.GROUNDS_CATEGORY_COLLUSION, GroundsCategory.GROUNDS_CATEGORY_COERCION],
      minRestrictionMs: BigInt(365 * day),
    },
  ],
};

describe('recognition', () => {
  it('enforces a sanction a rule covers, and says which rule', () => {
    const s = issued((i) => ((i.listType = ListType.LIST_TYPE_SERIOUS_DISHONESTY), (i.groundsCategory = GroundsCategory.GROUNDS_CATEGORY_COLLUSION)));
    expect(recognise(s, self, mdb, undefined)).toEqual({ recognised: true, reason: 'recognised alliance-wide by rule 1 (serious-dishonesty, grounds fraud or corruption or collusion or coercion, restricted at least 365 days)' });
  });

  it('leaves to its issuer a sanction with other grounds, another list type, or a shorter restriction', () => {
    const base = (i: Sanction['issue']) => ((i.listType = ListType.LIST_TYPE_SERIOUS_DISHONESTY), (i.groundsCategory = GroundsCategory.GROUNDS_CATEGORY_FRAUD));
    const cases = [
      issued((i) => (base(i), (i.groundsCategory = GroundsCategory.GROUNDS_CATEGORY_OTHER))),
      issued((i) => (base(i), (i.listType = ListType.LIST_TYPE_BAD_BEHAVIOUR))),
      issued((i) => (base(i), (i.restrictionPeriod = { fromMs: BigInt(t0), untilMs: BigInt(t0 + 180 * day) }))),
    ];
    for (const s of cases) expect(recognise(s, self, mdb, undefined)).toEqual({ recognised: false, reason: expect.stringMatching(/binds its issuer only/) });
  });

  it('always enforces its own sanctions, and everything when there is no policy', () => {
    const s = issued((i) => (i.listType = ListType.LIST_TYPE_WATCH));
    expect(recognise({ ...s, issued: { ...s.issued, author: self } }, self, mdb, undefined).recognised).toBe(true);
    expect(recognise(s, self, undefined, undefined).recognised).toBe(true);
  });

  it('honours this member\'s opt-out until it is withdrawn; the latest word wins in any order', () => {
    const s = issued((i) => ((i.listType = ListType.LIST_TYPE_SERIOUS_DISHONESTY), (i.groundsCategory = GroundsCategory.GROUNDS_CATEGORY_FRAUD)));
    const out = { issuer: Buffer.from(issuer, 'hex'), sanctionId: 'KM-1', reason: 'under appeal here', withdrawn: false };
    const back = { ...out, reason: 'appeal rejected', withdrawn: true };
    const optedOut = applyOptOut(undefined, at(1), out);
    expect(recognise(s, self, mdb, optedOut)).toEqual({ recognised: false, reason: 'this member opted out of it: under appeal here' });
    const withdrawn = applyOptOut(optedOut, at(2), back);
    expect(applyOptOut(applyOptOut(undefined, at(2), back), at(1), out)).toEqual(withdrawn);
    expect(recognise(s, self, mdb, withdrawn).recognised).toBe(true);
  });
});
