// Order matters: V8 settings first; then early-workers loads .env and, in a cluster primary, forks
// the workers as it is evaluated, before bootstrap loads Nest and the app.
import './v8-tuning';
import { earlyWorkers } from './early-workers';
import { bootstrap, startFailed } from './bootstrap';

bootstrap(earlyWorkers).catch(startFailed);
