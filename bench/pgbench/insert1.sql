-- P1 baseline (bench/bench.sh): one single-row INSERT per transaction
-- (autocommit), the row like vmdb-loadgen --shape agents sends: a unique
-- name, a jsonb payload of one 100-character string (parsed on every
-- execution, as vmdb's is), a timestamp. RETURNING id: a client needs it.
\set r random(1, 9000000000000000000)
INSERT INTO agents_pg (name, payload, created_at) VALUES ('pg-' || :r, ('{"k": "' || :r || 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"}')::jsonb, now()) RETURNING id;
