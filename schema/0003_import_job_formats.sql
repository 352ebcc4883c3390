-- Bucket backfills and re-evaluations are tracked as import jobs too (spec buckets §11.2).
ALTER TABLE import_jobs DROP CONSTRAINT import_jobs_format_check;
ALTER TABLE import_jobs ADD CONSTRAINT import_jobs_format_check
  CHECK (format IN ('csv', 'json', 'bucket-backfill', 'bucket-reeval'));
