/**
 * The most processes WORKERS may ask for (node:cluster). Its own file, free of imports: the
 * cluster primary reads it before anything else is loaded (early-workers.ts).
 */
export const MAX_WORKERS = 64;

/** The most tasks one list answer holds (`limit`), and the most DEFAULT_PAGE_SIZE may be. */
export const MAX_PAGE_SIZE = 1000;
