-- Parsed rows of a contact import. The upload is parsed once into these rows; each 500-row batch
-- of the import workflow then reads its slice by index. Removed when the job finishes.
CREATE TABLE import_job_rows (
  job_id      uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  row_index   integer NOT NULL,
  external_id text,
  email       text,
  properties  jsonb,
  -- A row-level problem found while parsing (e.g. a number where a string belongs); reported as
  -- that row's error when its batch runs.
  problem     text,
  PRIMARY KEY (job_id, row_index)
);
