import { EntityProfile } from '../../gen/tongxing/records/v1/records.js';
import { compareProvenance, keyPart, type Provenance } from './provenance.js';

// Entity view, a function of the SET of registrations and updates seen, so any
// arrival order gives the same view: home node = author of the earliest
// registration by (hlc, author); the profile is the home node's latest word.

export const entityKey = (uscc: string): string => `view/entity/${keyPart(uscc)}`;

export interface ProfileAt {
  readonly at: Provenance;
  readonly profile: unknown; // EntityProfile JSON
}

export interface EntityView {
  /** The earliest registration of each author, ordered by provenance. */
  readonly registrations: ProfileAt[];
  /** The latest update of each author, ordered by author. */
  readonly updates: ProfileAt[];
}

export function applyEntityRegistration(view: EntityView | undefined, at: Provenance, profile: EntityProfile): EntityView {
  const registrations = (view?.registrations ?? []).slice();
  const own = registrations.findIndex((r) => r.at.author === at.author);
  if (own >= 0 && compareProvenance(registrations[own]!.at, at) <= 0) return view!;
  if (own >= 0) registrations.splice(own, 1);
  registrations.push({ at, profile: EntityProfile.toJSON(profile) });
  registrations.sort((a, b) => compareProvenance(a.at, b.at));
  return { registrations, updates: view?.updates ?? [] };
}

export function applyEntityUpdate(view: EntityView | undefined, at: Provenance, profile: EntityProfile): EntityView {
  const updates = (view?.updates ?? []).filter((u) => u.at.author !== at.author || compareProvenance(u.at, at) > 0);
  if (!updates.some((u) => u.at.author === at.author)) updates.push({ at, profile: EntityProfile.toJSON(profile) });
  updates.sort((a, b) => (a.at.author < b.at.author ? -1 : a.at.author > b.at.author ? 1 : 0));
  return { registrations: view?.registrations ?? [], updates };
}

export interface Entity {
  readonly profile: EntityProfile;
  readonly home: Provenance;
  /** The registration or update the profile comes from. */
  readonly latest: Provenance;
  /** Registrations by members other than the home node. */
  readonly observations: Provenance[];
}

/** What the view says, leaving out authors the caller excludes (e.g. quarantined ones). */
export function resolveEntity(view: EntityView | undefined, excluded: (author: string) => boolean = () => false): Entity | undefined {
  const registrations = (view?.registrations ?? []).filter((r) => !excluded(r.at.author));
  const home = registrations[0];
  if (!home) return undefined;
  const update = view!.updates.find((u) => u.at.author === home.at.author);
  const latest = update && compareProvenance(update.at, home.at) > 0 ? update : home;
  return {
    profile: EntityProfile.fromJSON(latest.profile),
    home: home.at,
    latest: latest.at,
    observations: registrations.slice(1).map((r) => r.at),
  };
}

/**
 * How a registration of `profile` by `author` meets the entity as resolved.
 * Only the home node's word counts (resolveEntity), so only the home node
 * registers or updates it; the client API and imports refuse other writes
 * before making them, and at the home node the same profile changes nothing.
 */
export type RegistrationStanding =
  | { readonly standing: 'unregistered' }
  | { readonly standing: 'homed-elsewhere'; readonly home: Provenance }
  | { readonly standing: 'homed-here'; readonly entity: Entity; readonly sameProfile: boolean };

export function registrationStanding(entity: Entity | undefined, author: string, profile: EntityProfile): RegistrationStanding {
  if (!entity) return { standing: 'unregistered' };
  if (entity.home.author !== author) return { standing: 'homed-elsewhere', home: entity.home };
  const sameProfile = Buffer.from(EntityProfile.encode(entity.profile).finish()).equals(EntityProfile.encode(profile).finish());
  return { standing: 'homed-here', entity, sameProfile };
}
