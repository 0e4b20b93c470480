import { EntityServiceService, type GetEntityRequest, type GetEntityResponse, type RegisterEntityRequest, type RegisterEntityResponse } from '../../gen/tongxing/api/v1/api.js';
import { EntityProfile } from '../../gen/tongxing/records/v1/records.js';
import { AlreadyExistsError, ValidationError } from '../../federation/errors.js';
import * as queries from '../../federation/queries.js';
import { validateEntityProfile } from '../../federation/records/validate.js';
import { checkUscc } from '../../federation/records/uscc.js';
import { entityKey } from '../../federation/views/entity.js';
import { compareProvenance } from '../../federation/views/provenance.js';
import type { ApiContext, ApiService } from './service.js';

// EntityService: register once (at the home node), read everywhere.

export function entityService(c: ApiContext): ApiService {
  const { replica, serial, provenance, describe } = c;

  async function registerEntity(request: RegisterEntityRequest): Promise<RegisterEntityResponse> {
    const profile = request.profile;
    validateEntityProfile(profile, 'profile');
    return serial.run(entityKey(profile!.uscc), async () => {
      const existing = await queries.getEntity(replica, profile!.uscc);
      if (existing && existing.home.author !== replica.nodeId) {
        throw new AlreadyExistsError(
          `profile.uscc: ${profile!.uscc} is already registered; its home node is ${describe(existing.home.author)}, ` +
            'and only the home node registers or updates it',
        );
      }
      if (existing) {
        // Registered here already: a retry of the same registration gets the original answer.
        const same = compareProvenance(existing.latest, existing.home) === 0 && Buffer.from(EntityProfile.encode(existing.profile).finish()).equals(EntityProfile.encode(profile!).finish());
        if (same) return { provenance: provenance(existing.home) };
        throw new AlreadyExistsError(
          `profile.uscc: ${profile!.uscc} is already registered at this node (log seq ${existing.home.seq}); change its profile with an entity update`,
        );
      }
      const written = await replica.write({ kind: { $case: 'entityRegistration', value: { profile: profile! } } });
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

  return { definition: EntityServiceService, handlers: { registerEntity, getEntity } };
}
