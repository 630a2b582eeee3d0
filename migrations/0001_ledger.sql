-- The ledger core: brands, assets, customers, accounts, transfers, holds, lots, API keys.
-- Every rule the Python core enforces is restated here as a CHECK, UNIQUE or trigger.
-- Amounts and counters are INTEGER minor units; times are INTEGER epoch milliseconds.

CREATE TABLE brands (
  id            INTEGER PRIMARY KEY,
  code          TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 64),
  name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE assets (
  id            INTEGER PRIMARY KEY,
  brand_id      INTEGER NOT NULL REFERENCES brands(id),
  code          TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 16),
  scale         INTEGER NOT NULL CHECK (scale BETWEEN 0 AND 18),
  kind          TEXT NOT NULL CHECK (kind IN ('points', 'credits', 'fiat', 'crypto')),
  expiry_days   INTEGER CHECK (expiry_days IS NULL OR expiry_days BETWEEN 1 AND 36500),
  created_at_ms INTEGER NOT NULL,
  UNIQUE (brand_id, code)
) STRICT;

CREATE TABLE customers (
  id            INTEGER PRIMARY KEY,
  brand_id      INTEGER NOT NULL REFERENCES brands(id),
  external_id   TEXT NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
  name          TEXT CHECK (name IS NULL OR length(name) <= 200),
  email         TEXT CHECK (email IS NULL OR length(email) <= 254),
  status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'blocked')),
  tags          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
  attributes    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes) AND json_type(attributes) = 'object'),
  birthdate     TEXT CHECK (birthdate IS NULL OR date(birthdate) = birthdate),
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  UNIQUE (brand_id, external_id)
) STRICT;
CREATE INDEX customers_brand_status ON customers (brand_id, status, id);

CREATE TABLE accounts (
  id              INTEGER PRIMARY KEY,
  brand_id        INTEGER NOT NULL REFERENCES brands(id),
  asset_id        INTEGER NOT NULL REFERENCES assets(id),
  kind            TEXT NOT NULL CHECK (kind IN ('customer', 'system', 'wallet', 'giftcard')),
  owner           TEXT NOT NULL CHECK (length(owner) BETWEEN 1 AND 128),
  customer_id     INTEGER REFERENCES customers(id),
  no_overdraft    INTEGER NOT NULL CHECK (no_overdraft IN (0, 1)),
  tracks_lots     INTEGER NOT NULL CHECK (tracks_lots IN (0, 1)),
  debits_posted   INTEGER NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
  credits_posted  INTEGER NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
  debits_pending  INTEGER NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
  credits_pending INTEGER NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
  -- Newest transfer touching this account: the head of its history chain.
  last_transfer_id INTEGER,
  created_at_ms   INTEGER NOT NULL,
  UNIQUE (brand_id, asset_id, kind, owner),
  CHECK (no_overdraft = 0 OR debits_posted + debits_pending <= credits_posted),
  CHECK ((kind = 'customer') = (customer_id IS NOT NULL)),
  CHECK ((kind = 'system') = (no_overdraft = 0))
) STRICT;
CREATE INDEX accounts_customer ON accounts (customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE transfers (
  id                 INTEGER PRIMARY KEY,
  brand_id           INTEGER NOT NULL REFERENCES brands(id),
  asset_id           INTEGER NOT NULL REFERENCES assets(id),
  debit_account_id   INTEGER NOT NULL REFERENCES accounts(id),
  credit_account_id  INTEGER NOT NULL REFERENCES accounts(id),
  amount             INTEGER NOT NULL CHECK (amount > 0),
  kind               TEXT NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending', 'expire_pending')),
  code               TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 32),
  pending_id         INTEGER REFERENCES transfers(id),
  timeout_at_ms      INTEGER,
  idempotency_key    TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 200),
  metadata           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  -- Counters of both accounts after this transfer: balances as of any moment are one read.
  dr_debits_posted   INTEGER NOT NULL,
  dr_credits_posted  INTEGER NOT NULL,
  dr_debits_pending  INTEGER NOT NULL,
  dr_credits_pending INTEGER NOT NULL,
  cr_debits_posted   INTEGER NOT NULL,
  cr_credits_posted  INTEGER NOT NULL,
  cr_debits_pending  INTEGER NOT NULL,
  cr_credits_pending INTEGER NOT NULL,
  -- Each account's history is a chain: the previous transfer that touched the debit and the
  -- credit account. Newest-first history and balance-as-of walk it from accounts.last_transfer_id.
  -- (Per-account B-tree indexes would dirty one leaf per active account per commit.)
  dr_prev_id         INTEGER REFERENCES transfers(id),
  cr_prev_id         INTEGER REFERENCES transfers(id),
  -- Never decreases along the ids (the writer takes the later of the clock and the last row).
  created_at_ms      INTEGER NOT NULL,
  prev_hash          TEXT NOT NULL CHECK (length(prev_hash) = 64),
  hash               TEXT NOT NULL CHECK (length(hash) = 64),
  CHECK (debit_account_id <> credit_account_id),
  CHECK ((kind IN ('posted', 'pending')) = (pending_id IS NULL)),
  CHECK (timeout_at_ms IS NULL OR kind = 'pending')
) STRICT;
CREATE UNIQUE INDEX transfers_idempotency ON transfers (brand_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- A pending transfer resolves exactly once.
CREATE UNIQUE INDEX transfers_one_resolution ON transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;

-- Pending transfers not yet resolved (an index of open holds, kept in step by the writer).
CREATE TABLE open_holds (
  transfer_id   INTEGER PRIMARY KEY REFERENCES transfers(id),
  brand_id      INTEGER NOT NULL REFERENCES brands(id),
  timeout_at_ms INTEGER
) STRICT;
CREATE INDEX open_holds_timeout ON open_holds (timeout_at_ms) WHERE timeout_at_ms IS NOT NULL;

CREATE TABLE lots (
  id            INTEGER PRIMARY KEY,
  account_id    INTEGER NOT NULL REFERENCES accounts(id),
  transfer_id   INTEGER NOT NULL REFERENCES transfers(id),
  amount        INTEGER NOT NULL CHECK (amount > 0),
  remaining     INTEGER NOT NULL CHECK (remaining BETWEEN 0 AND amount),
  expires_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX lots_live ON lots (account_id, expires_at_ms, id) WHERE remaining > 0;
CREATE INDEX lots_expiring ON lots (expires_at_ms) WHERE remaining > 0;

CREATE TABLE api_keys (
  id            INTEGER PRIMARY KEY,
  brand_id      INTEGER REFERENCES brands(id),
  role          TEXT NOT NULL CHECK (role IN ('admin', 'brand', 'readonly')),
  name          TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 200),
  prefix        TEXT NOT NULL,
  key_hash      TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64),
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER,
  CHECK ((role = 'admin') = (brand_id IS NULL))
) STRICT;
