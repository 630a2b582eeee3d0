-- The money range (README, "Money model"): counters are signed 64-bit integers of minor
-- units, so new assets have at most 9 decimals. Assets made before keep their scale.
CREATE TRIGGER assets_scale_at_most_9 BEFORE INSERT ON assets
WHEN NEW.scale > 9
BEGIN
  SELECT RAISE(ABORT, 'asset scale must be 0..9');
END;

-- Accounts whose largest counter has used half the 64-bit range (2^62): /metrics and
-- `verify` report them long before the range stops their transfers. A partial index holds
-- only those rows, so the report costs nothing per account while none is near.
CREATE INDEX accounts_near_counter_limit ON accounts (id)
WHERE max(debits_posted, credits_posted, debits_pending, credits_pending) >= 4611686018427387904;
