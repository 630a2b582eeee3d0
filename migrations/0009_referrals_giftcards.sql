-- The referral network and gift cards (seed 001, issue 11).
-- Groups and ambassadors (an ambassador is a customer of the brand, in at most one group, with
-- its own commission rate or its group's); the referral link of a customer to the ambassador
-- who brought it (made once, never changed); QR codes that lead to an ambassador's referral
-- code; gift cards, each a ledger account of kind 'giftcard' whose code is stored hashed.
-- Rates are basis points; amounts INTEGER minor units; times INTEGER epoch milliseconds.

CREATE TABLE referral_groups (
  id             INTEGER PRIMARY KEY,
  brand_id       INTEGER NOT NULL REFERENCES brands(id),
  code           TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- The commission of its ambassadors that have no rate of their own; NULL: the rule's rate.
  commission_bps INTEGER CHECK (commission_bps IS NULL OR commission_bps BETWEEN 0 AND 10000),
  created_at_ms  INTEGER NOT NULL,
  UNIQUE (brand_id, code)
) STRICT;

CREATE TABLE ambassadors (
  id             INTEGER PRIMARY KEY,
  brand_id       INTEGER NOT NULL REFERENCES brands(id),
  -- A customer is at most one ambassador.
  customer_id    INTEGER NOT NULL UNIQUE REFERENCES customers(id),
  -- At most one group (a column, not a link table).
  group_id       INTEGER REFERENCES referral_groups(id),
  commission_bps INTEGER CHECK (commission_bps IS NULL OR commission_bps BETWEEN 0 AND 10000),
  -- What customers give in payload.referral_code; unique per brand whatever its case.
  referral_code  TEXT NOT NULL COLLATE NOCASE CHECK (length(referral_code) BETWEEN 3 AND 64),
  created_at_ms  INTEGER NOT NULL,
  UNIQUE (brand_id, referral_code)
) STRICT;
CREATE INDEX ambassadors_brand ON ambassadors (brand_id, id);

-- Who referred a customer: linked by the first PURCHASE or SIGNUP that names an ambassador's
-- code, never re-linked, never deleted; nobody refers itself.
CREATE TABLE referrals (
  customer_id    INTEGER PRIMARY KEY REFERENCES customers(id),
  ambassador_id  INTEGER NOT NULL REFERENCES ambassadors(id),
  event_id       TEXT CHECK (event_id IS NULL OR length(event_id) BETWEEN 1 AND 128),
  created_at_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX referrals_ambassador ON referrals (ambassador_id);
CREATE TRIGGER referrals_not_self BEFORE INSERT ON referrals
WHEN (SELECT customer_id FROM ambassadors WHERE id = NEW.ambassador_id) = NEW.customer_id
BEGIN SELECT RAISE(ABORT, 'a customer cannot refer itself'); END;
CREATE TRIGGER referrals_no_update BEFORE UPDATE ON referrals
BEGIN SELECT RAISE(ABORT, 'a referral is never re-linked'); END;
CREATE TRIGGER referrals_no_delete BEFORE DELETE ON referrals
BEGIN SELECT RAISE(ABORT, 'a referral is never re-linked'); END;

CREATE TABLE qr_codes (
  id              INTEGER PRIMARY KEY,
  brand_id        INTEGER NOT NULL REFERENCES brands(id),
  ambassador_id   INTEGER NOT NULL REFERENCES ambassadors(id),
  -- Random and unguessable; unique across brands because the public /q/{code} names no brand.
  code            TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 16 AND 64),
  target_url      TEXT CHECK (target_url IS NULL OR length(target_url) BETWEEN 1 AND 2000),
  scans           INTEGER NOT NULL DEFAULT 0 CHECK (scans >= 0),
  last_scan_at_ms INTEGER,
  created_at_ms   INTEGER NOT NULL
) STRICT;
CREATE INDEX qr_codes_brand ON qr_codes (brand_id, id);

CREATE TABLE gift_cards (
  id                INTEGER PRIMARY KEY,
  brand_id          INTEGER NOT NULL REFERENCES brands(id),
  asset_id          INTEGER NOT NULL REFERENCES assets(id),
  -- The card's value lives in this account (kind 'giftcard', never below zero).
  account_id        INTEGER NOT NULL UNIQUE REFERENCES accounts(id),
  -- SHA-256 of the normalised code: the code itself is shown once and never stored.
  code_hash         TEXT NOT NULL UNIQUE CHECK (length(code_hash) = 64),
  last4             TEXT NOT NULL CHECK (length(last4) = 4),
  initial_amount    INTEGER NOT NULL CHECK (initial_amount > 0),
  status            TEXT NOT NULL CHECK (status IN ('active', 'voided', 'expired')),
  expires_at_ms     INTEGER,
  fund_transfer_id  INTEGER NOT NULL REFERENCES transfers(id),
  -- The transfer that moved what remained out at void or expiry (NULL: nothing remained).
  close_transfer_id INTEGER REFERENCES transfers(id),
  created_at_ms     INTEGER NOT NULL,
  resolved_at_ms    INTEGER,
  CHECK ((status = 'active') = (resolved_at_ms IS NULL)),
  CHECK (close_transfer_id IS NULL OR status <> 'active'),
  CHECK (expires_at_ms IS NULL OR expires_at_ms > created_at_ms)
) STRICT;
CREATE INDEX gift_cards_brand ON gift_cards (brand_id, id);
CREATE INDEX gift_cards_due ON gift_cards (expires_at_ms) WHERE status = 'active' AND expires_at_ms IS NOT NULL;
-- A card is voided or expires once, and its row is never deleted (seed 001 deleted it on redemption).
CREATE TRIGGER gift_cards_resolve_once BEFORE UPDATE OF status ON gift_cards
WHEN OLD.status <> 'active' AND NEW.status <> OLD.status
BEGIN SELECT RAISE(ABORT, 'a gift card is voided or expires once'); END;
CREATE TRIGGER gift_cards_no_delete BEFORE DELETE ON gift_cards
BEGIN SELECT RAISE(ABORT, 'gift cards are never deleted'); END;
