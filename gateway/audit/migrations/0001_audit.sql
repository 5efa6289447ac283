-- labgate audit table: one row per journal record, typed for Grafana.
-- `record` is the exact canonical JSON the hash chain covers; the typed columns are derived
-- from it (labgate audit verify checks that they still agree).

CREATE TABLE labgate_audit (
    event_id        text PRIMARY KEY,
    journal_id      text NOT NULL,
    seq             bigint NOT NULL,
    time            timestamptz,
    kind            text NOT NULL,
    request_id      text,
    trace_id        text,
    sub             text,
    client_id       text,
    username        text,
    groups          text[] NOT NULL DEFAULT '{}',
    token_id        text,
    face            text,
    capability      text,
    tool            text,
    arguments       jsonb,
    decision        text NOT NULL,
    rule_id         text,
    reasons         text[] NOT NULL DEFAULT '{}',
    policy_version  text,
    upstream        text,
    upstream_status integer,
    latency_ms      double precision,
    result_bytes    integer,
    result_count    integer,
    error_code      text,
    cached          boolean NOT NULL DEFAULT false,
    notes           jsonb NOT NULL DEFAULT '{}',
    record          text NOT NULL,
    prev_hash       text NOT NULL,
    hash            text NOT NULL,
    shipped_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX labgate_audit_journal_seq ON labgate_audit (journal_id, seq);
CREATE INDEX labgate_audit_time ON labgate_audit (time);
CREATE INDEX labgate_audit_tool_time ON labgate_audit (tool, time);
CREATE INDEX labgate_audit_decision_time ON labgate_audit (decision, time);
CREATE INDEX labgate_audit_sub_time ON labgate_audit (sub, time);
CREATE INDEX labgate_audit_request_id ON labgate_audit (request_id);

-- Tool calls only, without the chain columns: what most Grafana panels read.
CREATE VIEW labgate_audit_calls AS
SELECT event_id, time, request_id, trace_id, sub, client_id, username, groups, token_id,
       face, capability, tool, arguments, decision, rule_id, reasons, policy_version,
       upstream, upstream_status, latency_ms, result_bytes, result_count, error_code,
       cached, notes
FROM labgate_audit
WHERE kind = 'call';
