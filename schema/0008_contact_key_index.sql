-- Bucket sweeps, backfills and access helpers join memberships to live contacts on the contact
-- key (external id, else anonymous id, else the uuid): this makes that join an index lookup.
CREATE INDEX contacts_key_idx ON contacts ((coalesce(external_id, anonymous_id, id::text))) WHERE deleted_at IS NULL;
