-- P3 baseline (bench/bench.sh): a primary-key look-up of one random id in
-- 1..:maxid (pgbench -D maxid=N), the row as JSON as vmdb's read answers it.
\set id random(1, :maxid)
SELECT row_to_json(t) FROM agents_pg t WHERE id = :id;
