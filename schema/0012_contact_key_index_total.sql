-- A partial index whose predicate a query implies is a plan candidate even with no condition on
-- its column: a generic plan made while contacts was near empty used this one (deleted_at IS
-- NULL) for every key lookup and scanned all of it. Without the predicate it serves the key
-- join alone.
DROP INDEX contacts_key_idx;
CREATE INDEX contacts_key_idx ON contacts ((coalesce(external_id, anonymous_id, id::text)));
