import { ExpertAvailability, ExpertProfile } from '../../gen/tongxing/records/v1/records.js';
import { compareProvenance, keyPart, type Provenance } from './provenance.js';

// Expert view: like entities, the home node is the author of the earliest
// profile by (hlc, author), and only its latest profile and availability count.
// Each author's latest word is kept so the result does not depend on arrival order.

export const expertKey = (expertRef: string): string => `view/expert/${keyPart(expertRef)}`;

interface Word {
  readonly at: Provenance;
  readonly value: unknown;
}

export interface ExpertView {
  /** Each author's first profile: decides the home node. */
  readonly firsts: Word[];
  /** Each author's latest profile. */
  readonly profiles: Word[];
  /** Each author's latest availability. */
  readonly availability: Word[];
}

const empty: ExpertView = { firsts: [], profiles: [], availability: [] };

function keepPerAuthor(words: readonly Word[], word: Word, keep: 'first' | 'latest'): Word[] {
  const own = words.find((w) => w.at.author === word.at.author);
  const order = own ? compareProvenance(word.at, own.at) : 0;
  if (own && (keep === 'first' ? order >= 0 : order <= 0)) return words.slice();
  return [...words.filter((w) => w !== own), word].sort((a, b) => compareProvenance(a.at, b.at));
}

export function applyExpertProfile(view: ExpertView | undefined, at: Provenance, profile: ExpertProfile): ExpertView {
  const word = { at, value: ExpertProfile.toJSON(profile) };
  const current = view ?? empty;
  return {
    firsts: keepPerAuthor(current.firsts, word, 'first'),
    profiles: keepPerAuthor(current.profiles, word, 'latest'),
    availability: current.availability,
  };
}

export function applyExpertAvailability(view: ExpertView | undefined, at: Provenance, availability: ExpertAvailability): ExpertView {
  const current = view ?? empty;
  return { ...current, availability: keepPerAuthor(current.availability, { at, value: ExpertAvailability.toJSON(availability) }, 'latest') };
}

export interface Expert {
  readonly profile: ExpertProfile;
  readonly home: Provenance;
  readonly availability?: ExpertAvailability;
}

export function resolveExpert(view: ExpertView | undefined, excluded: (author: string) => boolean = () => false): Expert | undefined {
  const home = view?.firsts.find((w) => !excluded(w.at.author));
  if (!home) return undefined;
  const profile = view!.profiles.find((w) => w.at.author === home.at.author)!;
  const availability = view!.availability.find((w) => w.at.author === home.at.author);
  return {
    profile: ExpertProfile.fromJSON(profile.value),
    home: home.at,
    availability: availability && ExpertAvailability.fromJSON(availability.value),
  };
}

/**
 * Whether `author` may write an expert's profile and availability: only its
 * home node's word counts (resolveExpert), so only the home node writes them.
 * The client API and the lease desk refuse other writes before making them.
 */
export type ExpertStanding =
  | { readonly standing: 'unregistered' }
  | { readonly standing: 'homed-elsewhere'; readonly home: Provenance }
  | { readonly standing: 'homed-here'; readonly expert: Expert };

export function expertStanding(expert: Expert | undefined, author: string): ExpertStanding {
  if (!expert) return { standing: 'unregistered' };
  return expert.home.author === author ? { standing: 'homed-here', expert } : { standing: 'homed-elsewhere', home: expert.home };
}
