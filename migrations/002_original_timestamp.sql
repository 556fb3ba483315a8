-- The client's own timestamp, beside the corrected one. `timestamp` is what analysts use: the
-- client's time corrected for device clock skew (receivedAt − (sentAt − timestamp)). This column
-- keeps what the client said before that correction, so a wrong device clock stays visible and a
-- correction can be audited. NULL when the client sent no timestamp (the event is stamped with
-- its receipt time) or one outside DateTime64's range.
-- ADD COLUMN IF NOT EXISTS: re-running the statement (a cluster node that already has it, a
-- migration interrupted before it was recorded) changes nothing; runs on ClickHouse 24.x too.
ALTER TABLE events {on_cluster} ADD COLUMN IF NOT EXISTS original_timestamp Nullable(DateTime64(3, 'UTC')) AFTER timestamp;
