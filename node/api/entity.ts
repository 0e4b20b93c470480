import {
  EntityServiceService,
  type GetEntityRequest,
  type GetEntityResponse,
  type RegisterEntityRequest,
  type RegisterEntityResponse,
  type UpdateEntityRequest,
  type UpdateEntityResponse,
} from '../../gen/tongxing/api/v1/api.js';
import { AlreadyExistsError, NotFoundError, PreconditionError, ValidationError } from '../../federation/errors.js';
import * as queries from '../../federation/queries.js';
import { validateEntityProfile } from '../../federation/records/validate.js';
import { checkUscc } from '../../federation/records/uscc.js';
import { entityKey, registrationStanding } from '../../federation/views/entity.js';
import { compareProvenance } from '../../federation/views/provenance.js';
import type { ApiContext, ApiService } from './service.js';

// EntityService: register once and update (at the home node), read everywhere.

/** Why a write about `uscc` is refused at any node but its home node (federation/views/entity.ts registrationStanding). */
export const homedElsewhere = (uscc: string, home: string): string =>
  `${uscc} is already registered; its home node is ${home}, and only the home node registers or updates it`;

export function entityService(c: ApiContext): ApiService {
  const { replica, serial, provenance, describe } = c;

  async function registerEntity(request: RegisterEntityRequest): Promise<RegisterEntityResponse> {
    const profile = request.profile;
    validateEntityProfile(profile, 'profile');
    return serial.run(entityKey(profile!.uscc), async () => {
      const registration = registrationStanding(await queries.getEntity(replica, profile!.uscc), replica.nodeId, profile!);
      if (registration.standing === 'homed-elsewhere') throw new AlreadyExistsError(`profile.uscc: ${homedElsewhere(profile!.uscc, describe(registration.home.author))}`);
      if (registration.standing === 'homed-here') {
        const { entity, sameProfile } = registration;
        // A retry of the same registration (never updated since) gets the original answer.
        if (sameProfile && compareProvenance(entity.latest, entity.home) === 0) return { provenance: provenance(entity.home) };
        throw new AlreadyExistsError(
          `profile.uscc: ${profile!.uscc} is already registered at this node (log seq ${entity.home.seq}); change its profile with UpdateEntity (tongxing entity update)`,
        );
      }
      const written = await replica.write({ kind: { $case: 'entityRegistration', value: { profile: profile! } } });
      return { provenance: provenance(written) };
    });
  }

  async function updateEntity(request: UpdateEntityRequest): Promise<UpdateEntityResponse> {
    const profile = request.profile;
    validateEntityProfile(profile, 'profile');
    return serial.run(entityKey(profile!.uscc), async () => {
      const registration = registrationStanding(await queries.getEntity(replica, profile!.uscc), replica.nodeId, profile!);
      if (registration.standing === 'unregistered') throw new NotFoundError(`profile.uscc: ${profile!.uscc} is not registered at any member this node has heard from; register it first`);
      if (registration.standing === 'homed-elsewhere') throw new PreconditionError(`profile.uscc: ${homedElsewhere(profile!.uscc, describe(registration.home.author))}`);
      // The profile it already has: nothing to write (a retried update answers as the first did).
      if (registration.sameProfile) return { provenance: provenance(registration.entity.latest) };
      const written = await replica.write({ kind: { $case: 'entityUpdate', value: { profile: profile! } } });
      return { provenance: provenance(written) };
    });
  }

  async function getEntity(request: GetEntityRequest): Promise<GetEntityResponse> {
    // Codes that fail only their check characters may be registered with an override, so they are looked up.
    if (request.uscc === '') throw new ValidationError('uscc', 'missing');
    const checked = checkUscc(request.uscc);
    if (!checked.valid && !checked.overridable) throw new ValidationError('uscc', checked.reason);
    const entity = await queries.getEntity(replica, request.uscc);
    if (!entity) return { found: false, profile: undefined, home: undefined, latest: undefined, observations: [] };
    return {
      found: true,
      profile: entity.profile,
      home: provenance(entity.home),
      latest: provenance(entity.latest),
      observations: entity.observations.map(provenance),
    };
  }

  return { definition: EntityServiceService, handlers: { registerEntity, updateEntity, getEntity } };
}
