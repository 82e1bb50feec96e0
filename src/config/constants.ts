/**
 * The most processes WORKERS may ask for (node:cluster). Its own file, free of imports: the
 * cluster primary reads it before anything else is loaded (early-workers.ts).
 */
export const MAX_WORKERS = 64;
