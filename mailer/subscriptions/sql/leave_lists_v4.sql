-- leave_lists, version 4 (created by migration 0062; never edit: a change is a new version and a new migration).
-- The withdrawal rule of mailer/subscriptions/withdrawal.py (withdraws, as leaving.leave_lists and withdraw_list
-- apply it) for a group of one-list unsubscribes in one statement, the events handed to ledger_append.
-- Version 4 ends the group's subscriptions with one UPDATE (rows locked in id order) instead of one per job,
-- so the statement triggers on subscriptions (list counts, consent coverage, migrations 0031 and 0060) run
-- once per group, not once per person; and it looks the privacy notice of each language up once per group.
-- Same arguments, answers, rows and events as version 3, which records the notice in force in each contact's
-- language (the newest version of the series "<notice_key>:<language>", else of "<notice_key>").
-- tests/subscriptions/test_leave_lists_sql.py proves this function and the Python rule agree.
CREATE OR REPLACE FUNCTION leave_lists(jobs json, notice_key text, ended_at timestamp)
RETURNS TABLE (job integer, outcome text, list_name text)
LANGUAGE plpgsql AS $$
DECLARE
    j record;
    target record;
    notice integer;
    notices jsonb := '{}';            -- language ('' for none) -> the notice in force in it
    ended_pairs text[];               -- 'contact id:list id' of the subscriptions this call ended
    state text;
    ended boolean;
    events json[] := '{}';            -- the "withdrawn" events due, in job order
BEGIN
    WITH asked AS (
        SELECT c.id AS contact_id, l.id AS list_id
        FROM json_to_recordset(jobs) AS asking(contact_public_id text, list_public_id text)
        JOIN contacts c ON c.public_id = asking.contact_public_id AND c.status <> 'erased'
        JOIN mailing_lists l ON l.public_id = asking.list_public_id
    ), locked AS (
        SELECT s.id FROM subscriptions s JOIN asked a ON a.contact_id = s.contact_id AND a.list_id = s.list_id
        WHERE s.status <> 'unsubscribed' ORDER BY s.id FOR UPDATE OF s
    ), ended_rows AS (
        UPDATE subscriptions s SET status = 'unsubscribed', unsubscribed_at = ended_at
        WHERE s.id IN (SELECT id FROM locked) AND s.status <> 'unsubscribed'
        RETURNING s.contact_id, s.list_id
    )
    SELECT coalesce(array_agg(e.contact_id || ':' || e.list_id), '{}') INTO ended_pairs FROM ended_rows e;
    FOR j IN SELECT * FROM ROWS FROM (json_to_recordset(jobs) AS (
            contact_public_id text, list_public_id text, created_at timestamp, details json, source text,
            ip text, user_agent text, pii_salt text, pii_rest text, hash_text text[]))
        WITH ORDINALITY AS t ORDER BY t.ordinality LOOP
        job := j.ordinality;
        SELECT c.id, c.email, c.status, coalesce(c.language, '') AS language, l.id AS list_id, l.name,
               p.id AS purpose_id INTO target
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
        IF notices ? target.language THEN
            notice := (notices ->> target.language)::integer;
        ELSE
            notice := NULL;
            SELECT n.id INTO notice FROM notices n
            WHERE n.key IN (notice_key || ':' || target.language, notice_key)
            ORDER BY n.key = notice_key, n.version DESC LIMIT 1;
            notices := notices || jsonb_build_object(target.language, notice);
        END IF;
        ended := (target.id || ':' || target.list_id) = ANY (ended_pairs);
        state := NULL;
        IF target.purpose_id IS NOT NULL THEN
            SELECT cs.status INTO state FROM consent_states cs
            WHERE cs.contact_id = target.id AND cs.purpose_id = target.purpose_id FOR UPDATE;
        END IF;
        IF target.purpose_id IS NOT NULL AND (coalesce(state IN ('granted', 'pending'), false)
                OR (ended AND coalesce(state NOT IN ('withdrawn', 'objected'), true))) THEN
            events := events || json_build_object(
                'contact_id', target.id, 'purpose_id', target.purpose_id, 'action', 'withdrawn',
                'state', 'withdrawn', 'source', j.source, 'notice_id', notice, 'email', target.email,
                'ip', j.ip, 'user_agent', j.user_agent, 'details', j.details, 'created_at', j.created_at,
                'pii_salt', j.pii_salt, 'pii_rest', j.pii_rest, 'hash_text', j.hash_text);
            outcome := 'done';
        ELSIF ended THEN
            outcome := 'done';
        ELSE
            outcome := 'already';
        END IF;
        RETURN NEXT;
    END LOOP;
    PERFORM 1 FROM ledger_append(array_to_json(events));
END
$$;
