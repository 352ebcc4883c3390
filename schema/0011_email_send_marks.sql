-- A send row is written before its provider call and marked sent after it. The row now records
-- the Message-ID it goes out with as its provider id (an SMTP server answers with that id), the
-- status index that no query narrowed by is dropped, and pages keep room for a second version:
-- the sent mark changes no indexed column and becomes a HOT update (no index writes at all).
DROP INDEX email_sends_status_idx;
ALTER TABLE email_sends SET (fillfactor = 80);
