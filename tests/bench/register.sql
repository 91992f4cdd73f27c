-- pgbench transaction: the rows one registerCase writes to PostgreSQL, in one transaction, with nothing
-- else around it (no HTTP, GraphQL, authentication, authorization, validation, encryption or ORM).
-- It is the floor the API's registerCase/s is compared against in run-register-bench.sh.
--
-- What the server does per registerCase (api/src/store/cases.rs, register_case):
--   BEGIN
--   INSERT INTO cases ... RETURNING                        one row
--   INSERT INTO case_parties ... VALUES (...), (...)       the applicant (ID number + phone) and the respondent (phone)
--   INSERT INTO case_events ...                            the 'register' event
--   INSERT INTO idempotency_keys ...                       the client's key and the request's keyed hash
--   COMMIT
-- plus, once per 64 registrations and outside the transaction, an upsert of case_code_counters (the
-- server hands out case-code sequence numbers from a reserved block); that upsert is left out here.
-- Ciphertexts and keyed hashes are random hex of the stored lengths.
--
-- Variables (pass with -D; run-register-bench.sh reads them from the seeded database):
--   county       the county tenant id
--   county_code  the county's six-digit division code (e.g. 620521), for the case code
--   t1 … t18     the ids of the 18 demo townships
--   u1 … u18     the ids of their intake clerks (tNN.clerk), the registering users
-- Client c registers at township (c % 18) + 1, as loadgen's client c does.
--
-- Case codes look like the server's (620521-20261123-1000004321) but number from 1,000,000,000 + the
-- case id, taken from the cases identity sequence, so they never meet the server's own sequence numbers.
--
-- Example, against a database the server has seeded (see tests/bench/README.md):
--   pgbench -n -c 32 -j 2 -T 20 -f tests/bench/register.sql $(tests/bench/run-register-bench.sh --pgbench-vars DB) DB

\set tn 1 + :client_id % 18
\set township_id CASE WHEN :tn = 1 THEN :t1 WHEN :tn = 2 THEN :t2 WHEN :tn = 3 THEN :t3 \
    WHEN :tn = 4 THEN :t4 WHEN :tn = 5 THEN :t5 WHEN :tn = 6 THEN :t6 WHEN :tn = 7 THEN :t7 \
    WHEN :tn = 8 THEN :t8 WHEN :tn = 9 THEN :t9 WHEN :tn = 10 THEN :t10 WHEN :tn = 11 THEN :t11 \
    WHEN :tn = 12 THEN :t12 WHEN :tn = 13 THEN :t13 WHEN :tn = 14 THEN :t14 WHEN :tn = 15 THEN :t15 \
    WHEN :tn = 16 THEN :t16 WHEN :tn = 17 THEN :t17 ELSE :t18 END
\set clerk_id CASE WHEN :tn = 1 THEN :u1 WHEN :tn = 2 THEN :u2 WHEN :tn = 3 THEN :u3 \
    WHEN :tn = 4 THEN :u4 WHEN :tn = 5 THEN :u5 WHEN :tn = 6 THEN :u6 WHEN :tn = 7 THEN :u7 \
    WHEN :tn = 8 THEN :u8 WHEN :tn = 9 THEN :u9 WHEN :tn = 10 THEN :u10 WHEN :tn = 11 THEN :u11 \
    WHEN :tn = 12 THEN :u12 WHEN :tn = 13 THEN :u13 WHEN :tn = 14 THEN :u14 WHEN :tn = 15 THEN :u15 \
    WHEN :tn = 16 THEN :u16 WHEN :tn = 17 THEN :u17 ELSE :u18 END
\set group random(1, 9)
\set id_tail random(1000, 9999)
\set phone_a random(10000000, 99999999)
\set phone_b random(10000000, 99999999)

BEGIN;

WITH n AS (SELECT nextval(pg_get_serial_sequence('cases', 'id')) AS id)
INSERT INTO cases (id, code, county_id, township_id, village_id, grid_id, origin_tenant_id, tenant_id,
                   kind, channel, category, status, tier, title, description, place,
                   registered_by, registered_at, accepted_at, due_at, lead_unit_id, outcome, mediation_method,
                   satisfaction, resolved_at, closed_at, updated_at, version)
SELECT n.id, (:county_code)::text || to_char(now(), '-YYYYMMDD-') || (1000000000 + n.id)::text,
       :county, :township_id, NULL, NULL, :township_id, :township_id,
       'dispute', 'window', 'neighbour', 'registered', 'initial_mediation',
       '邻里排水沟堵塞纠纷',
       '当事人到中心窗口反映：邻里排水沟堵塞纠纷，双方多次协商未果，请求中心组织调解。（压测数据，第' || (:group)::text || '组）',
       '清水县某村' || (:group)::text || '组',
       :clerk_id, now(), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, now(), 1
FROM n
RETURNING id AS case_id \gset

INSERT INTO case_parties (case_id, county_id, role, name, id_card_cipher, id_card_hash, id_card_masked,
                          phone_cipher, phone_hash, phone_masked, address)
VALUES (:case_id, :county, 'applicant', '王建国',
        md5(random()::text) || md5(random()::text), md5(random()::text) || md5(random()::text),
        '620521********' || (:id_tail)::text,
        left(md5(random()::text) || md5(random()::text), 52), md5(random()::text) || md5(random()::text),
        '138****' || right((:phone_a)::text, 4), '某村' || (:group)::text || '组'),
       (:case_id, :county, 'respondent', '李秀英',
        NULL, NULL, NULL,
        left(md5(random()::text) || md5(random()::text), 52), md5(random()::text) || md5(random()::text),
        '139****' || right((:phone_b)::text, 4), '某村' || (:group)::text || '组');

INSERT INTO case_events (case_id, county_id, tenant_id, actor_id, unit_id, command, from_status, to_status,
                         note, data, at)
VALUES (:case_id, :county, :township_id, :clerk_id, NULL, 'register', NULL, 'registered',
        '', '{"channel":"window"}', now());

INSERT INTO idempotency_keys (user_id, key, request_hash, case_id, county_id, created_at)
VALUES (:clerk_id, 'pgbench-' || (:client_id)::text || '-' || (:case_id)::text,
        md5(random()::text) || md5(random()::text), :case_id, :county, now());

END;
