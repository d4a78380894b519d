-- ledger_append, version 2 (created by migration 0062; never edit: a change is a new version and a new migration).
-- The PostgreSQL side of mailer/consent/chain.py, for appends made inside the database (leave_lists); the
-- helpers ledger_pii_digest and ledger_event_hash stay as version 1 made them (ledger_append_v1.sql).
-- Version 2 writes a group as ledger.append_events does: the chain is computed in order under the ledger head
-- lock, the group's ids are taken from the sequence under that lock (so they ascend with the chain), then one
-- INSERT of the events and one INSERT ... ON CONFLICT of the consent states they leave (the last event's per
-- contact and purpose). Version 1 wrote event by event, so the statement triggers on consent_events and
-- consent_states (the counters of migration 0060) ran once per event. Same events, hashes and states.
-- tests/consent/test_chain_sql.py proves the hashes identical to the Python chain's on the same events.
CREATE OR REPLACE FUNCTION ledger_append(events json)
RETURNS TABLE (appended_id integer, appended_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    head text;                        -- the newest hash before this group
    previous text;
    digest text;
    digests text[] := '{}';
    hashes text[] := '{}';
    ids integer[];
BEGIN
    IF json_array_length(events) = 0 THEN
        RETURN;
    END IF;
    SELECT h.last_hash INTO head FROM ledger_head h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN  -- the very first event
        INSERT INTO ledger_head (id, last_hash, last_event_id) VALUES (1, repeat('0', 64), 0)
        ON CONFLICT (id) DO NOTHING;
        SELECT h.last_hash INTO head FROM ledger_head h WHERE h.id = 1 FOR UPDATE;
    END IF;
    previous := head;
    FOR e IN SELECT * FROM ROWS FROM (json_to_recordset(events) AS (
            contact_id integer, purpose_id integer, notice_id integer, email text, pii_salt text, pii_rest text,
            hash_text text[])) WITH ORDINALITY AS t ORDER BY t.ordinality LOOP
        digest := ledger_pii_digest(e.pii_salt, e.email, e.pii_rest);
        previous := ledger_event_hash(e.hash_text, e.contact_id, e.notice_id, digest, previous, e.purpose_id);
        digests := digests || digest;
        hashes := hashes || previous;
    END LOOP;
    SELECT array_agg(n ORDER BY n) INTO ids FROM (
        SELECT nextval(pg_get_serial_sequence('consent_events', 'id'))::integer AS n
        FROM generate_series(1, json_array_length(events))) AS taken;
    INSERT INTO consent_events (id, contact_id, purpose_id, action, source, notice_id, email, ip, user_agent,
                                details, created_at, pii_salt, pii_digest, prev_hash, hash)
    SELECT ids[t.ordinality::integer], t.contact_id, t.purpose_id, t.action, t.source, t.notice_id, t.email, t.ip,
           t.user_agent, t.details, t.created_at, t.pii_salt, digests[t.ordinality::integer],
           CASE WHEN t.ordinality = 1 THEN head ELSE hashes[t.ordinality::integer - 1] END, hashes[t.ordinality::integer]
    FROM ROWS FROM (json_to_recordset(events) AS (
            contact_id integer, purpose_id integer, action text, source text, notice_id integer, email text,
            ip text, user_agent text, details json, created_at timestamp, pii_salt text)) WITH ORDINALITY AS t
    ORDER BY t.ordinality;
    INSERT INTO consent_states (contact_id, purpose_id, status, event_id, updated_at)
    SELECT DISTINCT ON (t.contact_id, t.purpose_id) t.contact_id, t.purpose_id, t.state, ids[t.ordinality::integer],
           t.created_at
    FROM ROWS FROM (json_to_recordset(events) AS (
            contact_id integer, purpose_id integer, state text, created_at timestamp)) WITH ORDINALITY AS t
    WHERE t.state IS NOT NULL AND t.purpose_id IS NOT NULL
    ORDER BY t.contact_id, t.purpose_id, t.ordinality DESC
    ON CONFLICT (contact_id, purpose_id) DO UPDATE
    SET status = excluded.status, event_id = excluded.event_id, updated_at = excluded.updated_at;
    UPDATE ledger_head SET last_hash = previous, last_event_id = ids[array_length(ids, 1)] WHERE id = 1;
    RETURN QUERY SELECT ids[i], hashes[i] FROM generate_subscripts(ids, 1) AS i ORDER BY i;
END
$$;
