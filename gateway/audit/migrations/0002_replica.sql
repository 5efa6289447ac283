-- The replica (or worker) that wrote each record: several gateways ship to one table.
ALTER TABLE labgate_audit ADD COLUMN replica text;
CREATE INDEX labgate_audit_replica_time ON labgate_audit (replica, time);

CREATE OR REPLACE VIEW labgate_audit_calls AS
SELECT event_id, time, request_id, trace_id, sub, client_id, username, groups, token_id,
       face, capability, tool, arguments, decision, rule_id, reasons, policy_version,
       upstream, upstream_status, latency_ms, result_bytes, result_count, error_code,
       cached, notes, replica
FROM labgate_audit
WHERE kind = 'call';
