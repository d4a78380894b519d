-- leave_lists, version 1 (created by migration 0011; never edit: a change is a new version and a new migration).
-- The rule of mailer/subscriptions/withdrawal.py (as leaving.leave_lists and withdrawal.withdraw_list apply it)
-- for a group of one-list unsubscribes in one statement; tests/subscriptions/test_leave_lists_sql.py proves
-- they agree. Migration 0014 replaced it by version 2.
CREATE OR REPLACE FUNCTION leave_lists(jobs json, notice_key text, ended_at timestamp)
RETURNS TABLE (job integer, outcome text, list_name text)
LANGUAGE plpgsql AS $$
DECLARE
    j record;
    target record;
    notice integer;
    state text;
    ended boolean;
    events integer[] := '{}';         -- the jobs that get a "withdrawn" event, in job order
    contact_ids integer[] := '{}';
    purpose_ids integer[] := '{}';
    emails text[] := '{}';
    previous text;
    digest text;
    event_hash text;
    new_id integer;
    k integer := 0;
BEGIN
    SELECT n.id INTO notice FROM notices n WHERE n.key = notice_key ORDER BY n.version DESC LIMIT 1;
    FOR j IN SELECT * FROM ROWS FROM (json_to_recordset(jobs) AS (
            contact_public_id text, list_public_id text, created_at timestamp, details json, source text,
            ip text, user_agent text, pii_salt text, pii_rest text, hash_text text[]))
        WITH ORDINALITY AS t ORDER BY t.ordinality LOOP
        job := j.ordinality;
        SELECT c.id, c.email, c.status, l.id AS list_id, l.name, p.id AS purpose_id INTO target
        FROM contacts c JOIN mailing_lists l ON l.public_id = j.list_public_id
        LEFT JOIN purposes p ON p.list_id = l.id
        WHERE c.public_id = j.contact_public_id;
        IF NOT FOUND THEN
            outcome := 'recheck'; list_name := NULL;  -- unknown contact or a list that is gone
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF target.status = 'erased' THEN
            outcome := 'invalid'; list_name := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        list_name := target.name;
        UPDATE subscriptions s SET status = 'unsubscribed', unsubscribed_at = ended_at
        WHERE s.contact_id = target.id AND s.list_id = target.list_id AND s.status <> 'unsubscribed';
        ended := FOUND;
        state := NULL;
        IF target.purpose_id IS NOT NULL THEN
            SELECT cs.status INTO state FROM consent_states cs
            WHERE cs.contact_id = target.id AND cs.purpose_id = target.purpose_id FOR UPDATE;
        END IF;
        IF target.purpose_id IS NOT NULL AND (coalesce(state IN ('granted', 'pending'), false)
                OR (ended AND coalesce(state NOT IN ('withdrawn', 'objected'), true))) THEN
            events := events || job;
            contact_ids := contact_ids || target.id;
            purpose_ids := purpose_ids || target.purpose_id;
            emails := emails || target.email;
            outcome := 'done';
        ELSIF ended THEN
            outcome := 'done';
        ELSE
            outcome := 'already';
        END IF;
        RETURN NEXT;
    END LOOP;
    IF cardinality(events) = 0 THEN
        RETURN;
    END IF;
    SELECT h.last_hash INTO previous FROM ledger_head h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN  -- the very first event
        INSERT INTO ledger_head (id, last_hash, last_event_id) VALUES (1, '0000000000000000000000000000000000000000000000000000000000000000', 0)
        ON CONFLICT (id) DO NOTHING;
        SELECT h.last_hash INTO previous FROM ledger_head h WHERE h.id = 1 FOR UPDATE;
    END IF;
    FOR j IN SELECT * FROM ROWS FROM (json_to_recordset(jobs) AS (
            contact_public_id text, list_public_id text, created_at timestamp, details json, source text,
            ip text, user_agent text, pii_salt text, pii_rest text, hash_text text[]))
        WITH ORDINALITY AS t WHERE t.ordinality = ANY (events) ORDER BY t.ordinality LOOP
        k := k + 1;
        digest := encode(sha256(convert_to(
            j.pii_salt || '[' || coalesce(to_json(emails[k])::text, 'null') || ',' || j.pii_rest, 'UTF8')), 'hex');
        -- hash_text: the event's hashed text around contact_id, notice_id, pii_digest, prev_hash, purpose_id
        event_hash := encode(sha256(convert_to(
            j.hash_text[1] || contact_ids[k] || j.hash_text[2] || coalesce(notice::text, 'null') || j.hash_text[3]
            || digest || j.hash_text[4] || previous || j.hash_text[5] || purpose_ids[k] || j.hash_text[6],
            'UTF8')), 'hex');
        INSERT INTO consent_events (contact_id, purpose_id, action, source, notice_id, email, ip, user_agent,
                                    details, created_at, pii_salt, pii_digest, prev_hash, hash)
        VALUES (contact_ids[k], purpose_ids[k], 'withdrawn', j.source, notice, emails[k], j.ip, j.user_agent,
                j.details, j.created_at, j.pii_salt, digest, previous, event_hash)
        RETURNING consent_events.id INTO new_id;
        INSERT INTO consent_states (contact_id, purpose_id, status, event_id, updated_at)
        VALUES (contact_ids[k], purpose_ids[k], 'withdrawn', new_id, j.created_at)
        ON CONFLICT (contact_id, purpose_id) DO UPDATE
        SET status = excluded.status, event_id = excluded.event_id, updated_at = excluded.updated_at;
        previous := event_hash;
    END LOOP;
    UPDATE ledger_head SET last_hash = previous, last_event_id = new_id WHERE id = 1;
END
$$;
