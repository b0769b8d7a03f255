-- P2 baseline (bench/bench.sh): 100 rows in one INSERT ... SELECT (one
-- transaction), each like insert1.sql's row. rows/s = tps x 100.
\set r random(1, 9000000000000000000)
INSERT INTO agents_pg (name, payload, created_at) SELECT 'pgb-' || :r || '-' || g, ('{"k": "' || g || 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz0123456789"}')::jsonb, now() FROM generate_series(1, 100) g;
