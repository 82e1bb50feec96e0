import { existsSync } from 'node:fs';

// Evaluated first (main.ts): `.env` fills in what the real environment lacks before anything
// reads it, the V8 settings (FRAMEWORK_TUNING_OFF) and the early fork (WORKERS) included.
if (existsSync('.env')) process.loadEnvFile('.env');
