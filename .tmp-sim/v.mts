import { validateRecord } from '../federation/records/validate.js';
import { entityRegistration } from '../federation/testing/records.js';
try { validateRecord(entityRegistration('91350100M000100Y44')); console.log('accepted!'); } catch (e) { console.log('rejected', (e as Error).message); }
