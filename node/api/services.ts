import { entityService } from './entity.js';
import { nodeService } from './node-status.js';
import { sanctionService } from './sanction.js';
import type { ApiContext, ApiService } from './service.js';

/** Every client API service a node serves, over gRPC and HTTP/JSON alike. */
export function apiServices(c: ApiContext): ApiService[] {
  return [entityService(c), sanctionService(c), nodeService(c)];
}
