// Order matters: early-workers loads .env and, in a cluster primary, forks the workers as it is
// evaluated, before bootstrap loads Nest and the app.
import { earlyWorkers } from './early-workers';
import { bootstrap, startFailed } from './bootstrap';

bootstrap(earlyWorkers).catch(startFailed);
