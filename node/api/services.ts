import { alertService, certificateService } from './certificate.js';
import { creditService } from './credit.js';
import { entityService } from './entity.js';
import { evaluationService } from './evaluation.js';
import { expertService } from './expert.js';
import { governanceService } from './governance.js';
import { nodeService } from './node-status.js';
import { sanctionService } from './sanction.js';
import type { ApiContext, ApiService } from './service.js';
import { transferService } from './transfer.js';

/** Every client API service a node serves, over gRPC and HTTP/JSON alike. */
export function apiServices(c: ApiContext): ApiService[] {
  return [entityService(c), sanctionService(c), nodeService(c), certificateService(c), alertService(c), transferService(c), expertService(c), evaluationService(c), governanceService(c), creditService(c)];
}
