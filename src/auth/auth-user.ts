/** The caller, as proven by a verified token. `id` is the token's `sub`, always. */
export interface AuthUser {
  id: string;
}
