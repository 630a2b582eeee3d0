-- The rewards catalog (DESIGN §6a): a brand's rewards and the rewards issued to customers.
-- A redemption debits the cost (a `redeem` transfer), takes one from stock and issues the
-- customer reward in one transaction; a cancel refunds it (a `refund` transfer) and gives
-- the stock back; an unused reward past expires_at expires (no refund: the cost was spent).
-- Amounts are INTEGER minor units of cost_asset_id; times are INTEGER epoch milliseconds.

CREATE TABLE rewards (
  id                 INTEGER PRIMARY KEY,
  brand_id           INTEGER NOT NULL REFERENCES brands(id),
  code               TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- Never changes: an issued reward's cost and refund are in this asset.
  cost_asset_id      INTEGER NOT NULL REFERENCES assets(id),
  -- 0 is a free reward: issued without a transfer.
  cost_amount        INTEGER NOT NULL CHECK (cost_amount BETWEEN 0 AND 1000000000000000000),
  -- NULL: unlimited. A redemption takes one (never below zero), a cancel gives it back.
  stock              INTEGER CHECK (stock IS NULL OR stock >= 0),
  per_customer_limit INTEGER CHECK (per_customer_limit IS NULL OR per_customer_limit >= 1),
  valid_days         INTEGER CHECK (valid_days IS NULL OR valid_days BETWEEN 1 AND 36500),
  active             INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at_ms      INTEGER NOT NULL,
  UNIQUE (brand_id, code)
) STRICT;

CREATE TABLE customer_rewards (
  id                 INTEGER PRIMARY KEY,
  brand_id           INTEGER NOT NULL REFERENCES brands(id),
  reward_id          INTEGER NOT NULL REFERENCES rewards(id),
  customer_id        INTEGER NOT NULL REFERENCES customers(id),
  status             TEXT NOT NULL CHECK (status IN ('issued', 'used', 'cancelled', 'expired')),
  -- What the holder shows at the counter: random and unguessable, never reused.
  redemption_code    TEXT NOT NULL UNIQUE CHECK (length(redemption_code) BETWEEN 16 AND 64),
  source             TEXT NOT NULL CHECK (length(source) BETWEEN 1 AND 32),
  event_id           TEXT CHECK (event_id IS NULL OR length(event_id) BETWEEN 1 AND 128),
  -- What was charged (0 for a free issue) and the transfers that charged and refunded it.
  cost_amount        INTEGER NOT NULL CHECK (cost_amount >= 0),
  charge_transfer_id INTEGER REFERENCES transfers(id),
  refund_transfer_id INTEGER REFERENCES transfers(id),
  issued_at_ms       INTEGER NOT NULL,
  expires_at_ms      INTEGER,
  -- When it left `issued` (used, cancelled or expired).
  resolved_at_ms     INTEGER,
  CHECK ((status = 'issued') = (resolved_at_ms IS NULL)),
  CHECK (charge_transfer_id IS NULL OR cost_amount > 0),
  CHECK (refund_transfer_id IS NULL OR (status = 'cancelled' AND charge_transfer_id IS NOT NULL)),
  CHECK (expires_at_ms IS NULL OR expires_at_ms > issued_at_ms)
) STRICT;
-- A customer's rewards (the list, and the per-customer limit count).
CREATE INDEX customer_rewards_customer ON customer_rewards (customer_id, reward_id, status);
-- The expiry sweep: issued rewards by expiry.
CREATE INDEX customer_rewards_due ON customer_rewards (expires_at_ms)
  WHERE status = 'issued' AND expires_at_ms IS NOT NULL;

-- A customer reward resolves exactly once: only an issued one changes status.
CREATE TRIGGER customer_rewards_resolve_once BEFORE UPDATE OF status ON customer_rewards
WHEN OLD.status <> 'issued' AND NEW.status <> OLD.status
BEGIN
  SELECT RAISE(ABORT, 'a customer reward resolves once');
END;
CREATE TRIGGER customer_rewards_no_delete BEFORE DELETE ON customer_rewards
BEGIN
  SELECT RAISE(ABORT, 'customer rewards are never deleted');
END;
