import { describe, expect, it } from 'vitest';
import { entityProfile, usccFor } from '../testing/records.js';
import { applyEntityRegistration, applyEntityUpdate, registrationStanding, resolveEntity } from './entity.js';

const home = 'a'.repeat(64);
const other = 'b'.repeat(64);
const at = (author: string, seq: number, hlc: number) => ({ author, seq, hlc: hlc.toString() });

describe('entity view: only the home node registers or updates', () => {
  const uscc = usccFor(3);
  const profile = entityProfile(uscc);
  const renamed = entityProfile(uscc, 'Renamed Co., Ltd.');
  const view = applyEntityRegistration(applyEntityRegistration(undefined, at(other, 1, 20), profile), at(home, 1, 10), profile);

  it('names the home node (earliest registration) to every other author', () => {
    expect(registrationStanding(undefined, home, profile)).toEqual({ standing: 'unregistered' });
    expect(registrationStanding(resolveEntity(view), other, profile)).toEqual({ standing: 'homed-elsewhere', home: at(home, 1, 10) });
  });

  it('tells the home node whether the profile is the one it holds, updated or not', () => {
    expect(registrationStanding(resolveEntity(view), home, profile)).toMatchObject({ standing: 'homed-here', sameProfile: true });
    expect(registrationStanding(resolveEntity(view), home, renamed)).toMatchObject({ standing: 'homed-here', sameProfile: false });
    const updated = resolveEntity(applyEntityUpdate(view, at(home, 2, 30), renamed));
    expect(registrationStanding(updated, home, renamed)).toMatchObject({ standing: 'homed-here', sameProfile: true, entity: { latest: at(home, 2, 30) } });
  });
});
