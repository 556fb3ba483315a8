import { BaliseError } from '../errors.ts';

/**
 * Stable codes: metabase_not_configured (METABASE_* missing), metabase_login_failed (bad
 * credentials, or a login that opens no session), metabase_unreachable (network),
 * metabase_http_error (any other non-2xx).
 */
export class MetabaseError extends BaliseError {}
