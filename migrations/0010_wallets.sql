-- Funding wallets and deposits (DESIGN §8, seed 000's developer sub-wallets).
-- A wallet is a ledger account of kind 'wallet' (never below zero) with a deposit address
-- derived from the installation's one HD seed at `hd_index`. A deposit seen on chain credits
-- the wallet exactly once: the deposit row (UNIQUE on chain, tx hash and log index) and its
-- transfer are written in one transaction, with the scan cursor that found them.
-- A withdrawal is a payout whose source is a wallet instead of a customer, so `payouts` is
-- rebuilt below with `customer_id` nullable and a `wallet_id` (exactly one of the two).
-- Amounts are INTEGER minor units of the wallet's asset; chain values are decimal text of
-- base units (wei, token units: they may pass 64 bits); times INTEGER epoch milliseconds.

CREATE TABLE wallets (
  id              INTEGER PRIMARY KEY,
  -- The public id (a UUID).
  uid             TEXT NOT NULL UNIQUE CHECK (length(uid) = 36),
  brand_id        INTEGER NOT NULL REFERENCES brands(id),
  name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  asset_id        INTEGER NOT NULL REFERENCES assets(id),
  account_id      INTEGER NOT NULL UNIQUE REFERENCES accounts(id),
  -- m/44'/60'/0'/0/<hd_index> of the HD seed; one index per wallet across the installation.
  hd_index        INTEGER NOT NULL UNIQUE CHECK (hd_index >= 0),
  deposit_address TEXT NOT NULL UNIQUE CHECK (length(deposit_address) = 42),
  created_at_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX wallets_brand ON wallets (brand_id, id);
CREATE TRIGGER wallets_fixed BEFORE UPDATE ON wallets
BEGIN
  SELECT RAISE(ABORT, 'a wallet never changes (its address is its seed''s)');
END;
CREATE TRIGGER wallets_no_delete BEFORE DELETE ON wallets
BEGIN
  SELECT RAISE(ABORT, 'wallets are never deleted');
END;

-- Every deposit credited: one per (chain, transaction, log); log_index -1 for plain ETH.
CREATE TABLE deposits (
  id             INTEGER PRIMARY KEY,
  wallet_id      INTEGER NOT NULL REFERENCES wallets(id),
  chain_key      TEXT NOT NULL CHECK (length(chain_key) BETWEEN 1 AND 64),
  tx_hash        TEXT NOT NULL CHECK (length(tx_hash) = 66),
  log_index      INTEGER NOT NULL CHECK (log_index >= -1),
  block_number   INTEGER NOT NULL CHECK (block_number >= 0),
  from_address   TEXT NOT NULL CHECK (length(from_address) = 42),
  token          TEXT CHECK (token IS NULL OR length(token) = 42),
  -- What arrived, in base units; `amount` of it was credited (minor units), `dust` (base
  -- units below one minor unit) stays on chain, recorded here, credited to nobody.
  value          TEXT NOT NULL,
  amount         INTEGER NOT NULL CHECK (amount >= 0),
  dust           TEXT NOT NULL,
  transfer_id    INTEGER UNIQUE REFERENCES transfers(id),
  created_at_ms  INTEGER NOT NULL,
  UNIQUE (chain_key, tx_hash, log_index),
  CHECK ((amount = 0) = (transfer_id IS NULL))
) STRICT;
CREATE INDEX deposits_wallet ON deposits (wallet_id, id);
CREATE TRIGGER deposits_fixed BEFORE UPDATE ON deposits
BEGIN
  SELECT RAISE(ABORT, 'a deposit never changes');
END;
CREATE TRIGGER deposits_no_delete BEFORE DELETE ON deposits
BEGIN
  SELECT RAISE(ABORT, 'deposits are never deleted');
END;

-- The next block the deposit scan reads, per chain ("eip155:<id>" or "dev:<uuid>").
CREATE TABLE deposit_scans (
  chain_key      TEXT PRIMARY KEY CHECK (length(chain_key) BETWEEN 1 AND 64),
  next_block     INTEGER NOT NULL CHECK (next_block >= 0),
  updated_at_ms  INTEGER NOT NULL
) WITHOUT ROWID, STRICT;

-- payouts, rebuilt: the source is a customer or a wallet. Children (payout_attempts,
-- chain_txs) keep pointing at the same ids; the foreign keys are checked at COMMIT.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE payouts_copy AS SELECT * FROM payouts;
DROP TABLE payouts;
CREATE TABLE payouts (
  id                 INTEGER PRIMARY KEY,
  -- The public id (a UUID) and the providers' idempotency key: unique across installations.
  uid                TEXT NOT NULL UNIQUE CHECK (length(uid) = 36),
  brand_id           INTEGER NOT NULL REFERENCES brands(id),
  customer_id        INTEGER REFERENCES customers(id),
  wallet_id          INTEGER REFERENCES wallets(id),
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
  UNIQUE (brand_id, idempotency_key),
  CHECK ((customer_id IS NULL) <> (wallet_id IS NULL))
) STRICT;
INSERT INTO payouts (id, uid, brand_id, customer_id, asset_id, amount, rail, destination, status,
                     hold_transfer_id, idempotency_key, provider_ref, attempts, last_error,
                     next_attempt_at_ms, created_at_ms, updated_at_ms)
  SELECT id, uid, brand_id, customer_id, asset_id, amount, rail, destination, status,
         hold_transfer_id, idempotency_key, provider_ref, attempts, last_error,
         next_attempt_at_ms, created_at_ms, updated_at_ms FROM temp.payouts_copy;
DROP TABLE temp.payouts_copy;
CREATE INDEX payouts_due ON payouts (next_attempt_at_ms) WHERE status IN ('pending', 'submitted');
CREATE INDEX payouts_customer ON payouts (customer_id, asset_id, created_at_ms) WHERE customer_id IS NOT NULL;
CREATE INDEX payouts_wallet ON payouts (wallet_id, id) WHERE wallet_id IS NOT NULL;
CREATE INDEX payouts_brand ON payouts (brand_id, status, id);
-- The rules of 0008, restated on the new table.
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
