/**
 * A quarantined event still to resolve: neither replayed nor stored since, as the client's own
 * resend (which replay counts as already stored). Data health and the violation-rate alert count
 * quarantined events with it, over rows received from the `{since:Int64}` parameter (epoch ms).
 * The stored ids looked for are the quarantined ones only: the range's every message id would be
 * a set of millions.
 */
export const UNRESOLVED_QUARANTINE = `message_id NOT IN (SELECT message_id FROM quarantine_replays)
         AND message_id NOT IN (SELECT message_id FROM events WHERE received_at >= fromUnixTimestamp64Milli({since:Int64})
           AND message_id IN (SELECT message_id FROM quarantine WHERE received_at >= fromUnixTimestamp64Milli({since:Int64})))`;
