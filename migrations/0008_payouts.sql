-- Payouts (DESIGN §8): the outbox, every attempt, and the chain rail's nonces and signed
-- transactions. A payout's hold is a pending transfer customer → payout_clearing written in
-- the same transaction as the payout row; it resolves exactly once, and only by its payout:
-- posted when the payout is confirmed, voided when it failed or was canceled (triggers below).
-- Double payment is made impossible by UNIQUE constraints: one payout per idempotency key,
-- one hold per payout, one chain transaction per payout, one transaction per payer nonce.
-- Amounts are INTEGER minor units of asset_id; times are INTEGER epoch milliseconds.

CREATE TABLE payouts (
  id                 INTEGER PRIMARY KEY,
  -- The public id (a UUID) and the providers' idempotency key: unique across installations.
  uid                TEXT NOT NULL UNIQUE CHECK (length(uid) = 36),
  brand_id           INTEGER NOT NULL REFERENCES brands(id),
  customer_id        INTEGER NOT NULL REFERENCES customers(id),
  asset_id           INTEGER NOT NULL REFERENCES assets(id),
  amount             INTEGER NOT NULL CHECK (amount > 0),
  rail               TEXT NOT NULL CHECK (rail IN ('chain', 'circle', 'stripe')),
  destination        TEXT NOT NULL CHECK (json_valid(destination) AND json_type(destination) = 'object'),
  status             TEXT NOT NULL CHECK (status IN ('pending', 'submitted', 'confirmed', 'failed', 'canceled')),
  hold_transfer_id   INTEGER NOT NULL UNIQUE REFERENCES transfers(id),
  -- The request's Idempotency-Key: a payout exists once per key, whatever the HTTP replay window.
  idempotency_key    TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  provider_ref       TEXT CHECK (provider_ref IS NULL OR length(provider_ref) BETWEEN 1 AND 200),
  attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error         TEXT CHECK (last_error IS NULL OR length(last_error) <= 500),
  next_attempt_at_ms INTEGER NOT NULL,
  created_at_ms      INTEGER NOT NULL,
  updated_at_ms      INTEGER NOT NULL,
  UNIQUE (brand_id, idempotency_key)
) STRICT;
-- The drain: unfinished payouts by due time.
CREATE INDEX payouts_due ON payouts (next_attempt_at_ms) WHERE status IN ('pending', 'submitted');
-- A customer's payouts (the list, and the daily cap's sum).
CREATE INDEX payouts_customer ON payouts (customer_id, asset_id, created_at_ms);
CREATE INDEX payouts_brand ON payouts (brand_id, status, id);

-- pending → submitted | canceled | failed; submitted → confirmed | failed; final states stay.
CREATE TRIGGER payouts_status_moves BEFORE UPDATE OF status ON payouts
WHEN NEW.status <> OLD.status AND NOT (
  (OLD.status = 'pending' AND NEW.status IN ('submitted', 'canceled', 'failed')) OR
  (OLD.status = 'submitted' AND NEW.status IN ('confirmed', 'failed')))
BEGIN
  SELECT RAISE(ABORT, 'payout status cannot move that way');
END;
CREATE TRIGGER payouts_no_delete BEFORE DELETE ON payouts
BEGIN
  SELECT RAISE(ABORT, 'payouts are never deleted');
END;
-- A payout's hold resolves by its payout only: posted once it is confirmed, voided once it
-- failed or was canceled. (Voiding it through /v1/transfers while the rail pays would pay twice.)
CREATE TRIGGER payouts_hold_resolution BEFORE INSERT ON transfers
WHEN NEW.pending_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM payouts p WHERE p.hold_transfer_id = NEW.pending_id AND NOT (
    (NEW.kind = 'post_pending' AND p.status = 'confirmed') OR
    (NEW.kind = 'void_pending' AND p.status IN ('failed', 'canceled'))))
BEGIN
  SELECT RAISE(ABORT, 'a payout hold is resolved by its payout only');
END;

-- Every call the drain made to a rail (and every claim), with what came back.
CREATE TABLE payout_attempts (
  id            INTEGER PRIMARY KEY,
  payout_id     INTEGER NOT NULL REFERENCES payouts(id),
  action        TEXT NOT NULL CHECK (action IN ('claim', 'submit', 'check', 'resolve')),
  outcome       TEXT NOT NULL CHECK (outcome IN ('claimed', 'submitted', 'pending', 'confirmed', 'failed',
                                                 'retry', 'error', 'canceled')),
  detail        TEXT CHECK (detail IS NULL OR length(detail) <= 500),
  at_ms         INTEGER NOT NULL
) STRICT;
CREATE INDEX payout_attempts_payout ON payout_attempts (payout_id, id);

-- The next nonce of each payer address on each chain ("eip155:<id>", or "dev:<uuid>" for one
-- life of the embedded dev chain). Allocated in the writer's transaction: gapless, never twice.
CREATE TABLE chain_nonces (
  chain_key     TEXT NOT NULL CHECK (length(chain_key) BETWEEN 1 AND 64),
  address       TEXT NOT NULL CHECK (length(address) = 42),
  next_nonce    INTEGER NOT NULL CHECK (next_nonce >= 0),
  PRIMARY KEY (chain_key, address)
) WITHOUT ROWID, STRICT;

-- A payout's signed transaction, committed before it is first broadcast: a retry or a
-- restart broadcasts these very bytes again, so a payout can be mined at most once.
CREATE TABLE chain_txs (
  id            INTEGER PRIMARY KEY,
  payout_id     INTEGER NOT NULL UNIQUE REFERENCES payouts(id),
  chain_key     TEXT NOT NULL,
  chain_id      INTEGER NOT NULL,
  from_address  TEXT NOT NULL CHECK (length(from_address) = 42),
  nonce         INTEGER NOT NULL CHECK (nonce >= 0),
  to_address    TEXT NOT NULL CHECK (length(to_address) = 42),
  -- wei (ETH) or token base units, as decimal text (may pass 64 bits).
  value         TEXT NOT NULL,
  token         TEXT,
  raw_tx        TEXT NOT NULL,
  tx_hash       TEXT NOT NULL UNIQUE CHECK (length(tx_hash) = 66),
  status        TEXT NOT NULL CHECK (status IN ('signed', 'broadcast', 'mined', 'confirmed', 'reverted', 'dropped')),
  block_number  INTEGER,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  UNIQUE (chain_key, from_address, nonce)
) STRICT;
CREATE TRIGGER chain_txs_bytes_fixed BEFORE UPDATE OF raw_tx, tx_hash, nonce, from_address, chain_key ON chain_txs
BEGIN
  SELECT RAISE(ABORT, 'a stored transaction never changes');
END;
