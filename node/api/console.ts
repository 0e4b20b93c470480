import {
  ConsoleServiceService,
  type EntitySummary,
  type GetConsoleSessionResponse,
  type ListEntitiesRequest,
  type ListEntitiesResponse,
} from '../../gen/tongxing/api/v1/console.js';
import { ValidationError } from '../../federation/errors.js';
import { stateRangeAfter } from '../../federation/scan.js';
import { entityKey, resolveEntity, type EntityView } from '../../federation/views/entity.js';
import { decodeView } from '../../federation/views/provenance.js';
import type { Caller } from '../access/guard.js';
import type { AccessRegistry } from '../access/registry.js';
import { consoleEntityScanMax, consolePageRowsMax } from '../limits.js';
import type { ApiContext, ApiService } from './service.js';

// ConsoleService: what the operator console asks beyond the other services.
// GetConsoleSession says who signed in (the console hides what the scopes
// refuse; the guard refuses it anyway). ListEntities pages the entity register
// in USCC order, the order of its view keys, so a page costs one range read
// (federation/scan.ts) however large the register; a name filter reads at most
// consoleEntityScanMax entities per page and says where to go on.

const entityPrefix = entityKey('');

/** The page token is the last view key read; anything else is refused, naming the field. */
function afterKey(token: string): string | undefined {
  if (token === '') return undefined;
  if (!token.startsWith(entityPrefix) || token.length === entityPrefix.length) throw new ValidationError('pageToken', 'is not a token a previous ListEntities page gave');
  return token;
}

export function consoleService(c: ApiContext, registry: Pick<AccessRegistry, 'get'>): ApiService {
  const { replica, cityOf } = c;

  async function getConsoleSession(_request: unknown, caller: Caller): Promise<GetConsoleSessionResponse> {
    return {
      client: caller.client,
      scopes: [...caller.scopes],
      operator: caller.operator,
      approver: registry.get(caller.client)?.approverPublicKey !== undefined,
      city: cityOf(replica.nodeId),
      nodeId: Buffer.from(replica.nodeId, 'hex'),
    };
  }

  async function listEntities(request: ListEntitiesRequest): Promise<ListEntitiesResponse> {
    if (request.pageSize > consolePageRowsMax) throw new ValidationError('pageSize', `at most ${consolePageRowsMax} (consolePageRowsMax); got ${request.pageSize}`);
    const pageSize = request.pageSize || consolePageRowsMax;
    const needle = request.nameContains.trim().toLowerCase();
    let after = afterKey(request.pageToken);
    const entities: EntitySummary[] = [];
    let scanned = 0;
    // Without a filter every entity read is a row: read one more than a page to know whether another follows.
    const budget = needle === '' ? pageSize : consoleEntityScanMax;
    while (entities.length < pageSize && scanned < budget) {
      const range = await stateRangeAfter(replica.store, entityPrefix, after, Math.min(budget - scanned, needle === '' ? pageSize - entities.length : 1000));
      if (range.length === 0) return { entities, nextPageToken: '', scanned };
      for (const [key, bytes] of range) {
        scanned += 1;
        after = key;
        const entity = resolveEntity(decodeView<EntityView>(bytes), (author) => replica.isQuarantined(author));
        if (!entity || (needle !== '' && !entity.profile.legalName.toLowerCase().includes(needle))) continue;
        entities.push({ profile: entity.profile, homeCity: cityOf(entity.home.author), homeNode: Buffer.from(entity.home.author, 'hex') });
        if (entities.length === pageSize) break;
      }
    }
    // Another page may follow unless the range ran out above.
    const more = (await stateRangeAfter(replica.store, entityPrefix, after, 1)).length > 0;
    return { entities, nextPageToken: more ? after! : '', scanned };
  }

  return { definition: ConsoleServiceService, handlers: { getConsoleSession, listEntities } };
}
