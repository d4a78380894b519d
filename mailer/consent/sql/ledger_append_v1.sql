-- ledger_append, version 1 (created by migration 0014; never edit: a change is a new version and a new migration).
-- The PostgreSQL side of mailer/consent/chain.py, for appends made inside the database (leave_lists). The
-- hashed form is defined once, in chain.py: the application sends each event's hashed text in pieces
-- (chain.hashed_form_pieces) and the digested text of its personal fields after the address (chain.pii_rest);
-- these functions fill in only what the database knows (ids, the address, the previous hash) and hash.
-- tests/consent/test_chain_sql.py proves the hashes identical to the Python chain's on the same events.

CREATE OR REPLACE FUNCTION ledger_pii_digest(pii_salt text, email text, pii_rest text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        pii_salt || '[' || coalesce(to_json(email)::text, 'null') || ',' || pii_rest, 'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION ledger_event_hash(
    pieces text[], contact_id integer, notice_id integer, pii_digest text, prev_hash text, purpose_id integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        pieces[1] || contact_id::text || pieces[2] || coalesce(notice_id::text, 'null') || pieces[3]
        || pii_digest || pieces[4] || prev_hash || pieces[5] || coalesce(purpose_id::text, 'null') || pieces[6],
        'UTF8')), 'hex')
$$;

-- Append events in order under the ledger head lock (held until the caller's transaction ends), with the
-- consent state each one leaves (`state`, null for actions that change none); as ledger.append_events does.
CREATE OR REPLACE FUNCTION ledger_append(events json)
RETURNS TABLE (appended_id integer, appended_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    previous text;
    digest text;
BEGIN
    IF json_array_length(events) = 0 THEN
        RETURN;
    END IF;
    SELECT h.last_hash INTO previous FROM ledger_head h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN  -- the very first event
        INSERT INTO ledger_head (id, last_hash, last_event_id) VALUES (1, repeat('0', 64), 0)
        ON CONFLICT (id) DO NOTHING;
        SELECT h.last_hash INTO previous FROM ledger_head h WHERE h.id = 1 FOR UPDATE;
    END IF;
    FOR e IN SELECT * FROM ROWS FROM (json_to_recordset(events) AS (
            contact_id integer, purpose_id integer, action text, state text, source text, notice_id integer,
            email text, ip text, user_agent text, details json, created_at timestamp, pii_salt text,
            pii_rest text, hash_text text[])) WITH ORDINALITY AS t ORDER BY t.ordinality LOOP
        digest := ledger_pii_digest(e.pii_salt, e.email, e.pii_rest);
        appended_hash := ledger_event_hash(e.hash_text, e.contact_id, e.notice_id, digest, previous, e.purpose_id);
        INSERT INTO consent_events (contact_id, purpose_id, action, source, notice_id, email, ip, user_agent,
                                    details, created_at, pii_salt, pii_digest, prev_hash, hash)
        VALUES (e.contact_id, e.purpose_id, e.action, e.source, e.notice_id, e.email, e.ip, e.user_agent,
                e.details, e.created_at, e.pii_salt, digest, previous, appended_hash)
        RETURNING consent_events.id INTO appended_id;
        IF e.state IS NOT NULL AND e.purpose_id IS NOT NULL THEN
            INSERT INTO consent_states (contact_id, purpose_id, status, event_id, updated_at)
            VALUES (e.contact_id, e.purpose_id, e.state, appended_id, e.created_at)
            ON CONFLICT (contact_id, purpose_id) DO UPDATE
            SET status = excluded.status, event_id = excluded.event_id, updated_at = excluded.updated_at;
        END IF;
        previous := appended_hash;
        RETURN NEXT;
    END LOOP;
    UPDATE ledger_head SET last_hash = previous, last_event_id = appended_id WHERE id = 1;
END
$$;
