-- The sweep flips active memberships to left by the thousand. The indexes only its reads of
-- active rows need become partial, so a flipped row (a new tuple: status is indexed) is written
-- to two indexes, not eight; the (bucket_id, status) and global ones no query used are dropped.
DROP INDEX bucket_memberships_bucket_status_idx;
DROP INDEX bucket_memberships_last_evaluated_idx;
DROP INDEX bucket_memberships_expires_at_idx;
DROP INDEX bucket_memberships_max_dwell_at_idx;
DROP INDEX bucket_memberships_bucket_status_id_idx;
DROP INDEX bucket_memberships_bucket_status_evaluated_idx;
CREATE INDEX bucket_memberships_active_id_idx ON bucket_memberships (bucket_id, id)
  WHERE status = 'active' AND deleted_at IS NULL;
CREATE INDEX bucket_memberships_active_evaluated_idx ON bucket_memberships (bucket_id, last_evaluated_at NULLS FIRST, id)
  WHERE status = 'active' AND deleted_at IS NULL;
CREATE INDEX bucket_memberships_active_max_dwell_idx ON bucket_memberships (bucket_id, max_dwell_at)
  WHERE status = 'active' AND deleted_at IS NULL AND max_dwell_at IS NOT NULL;
