// Order matters: V8 settings first; then early-workers loads .env and, in a cluster primary, forks
// the workers as it is evaluated, before bootstrap loads Nest and the app.
import './runtime/v8-tuning';
import { earlyWorkers } from './runtime/early-workers';
import { bootstrap, startFailed } from './runtime/bootstrap';

bootstrap(earlyWorkers).catch(startFailed);
