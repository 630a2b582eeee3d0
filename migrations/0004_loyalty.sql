-- The loyalty engine (DESIGN §6a): event types, versioned rules, events, tiers, bonuses,
-- and each customer's loyalty state. Rules, tiers and bonus definitions are a brand's
-- configuration: every change bumps brands.config_version in the same transaction, so the
-- writer's cache of a brand's configuration is reloaded exactly when it changed.

ALTER TABLE brands ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC'
  CHECK (length(time_zone) BETWEEN 1 AND 64);
ALTER TABLE brands ADD COLUMN config_version INTEGER NOT NULL DEFAULT 0 CHECK (config_version >= 0);

-- Points credited by rules to the tier asset; spending lowers neither, expiry and
-- reset_status_points lower status_points. Never below zero.
ALTER TABLE customers ADD COLUMN status_points INTEGER NOT NULL DEFAULT 0 CHECK (status_points >= 0);
ALTER TABLE customers ADD COLUMN lifetime_points INTEGER NOT NULL DEFAULT 0 CHECK (lifetime_points >= 0);
ALTER TABLE customers ADD COLUMN last_event_at_ms INTEGER;

CREATE TABLE event_types (
  id            INTEGER PRIMARY KEY,
  brand_id      INTEGER NOT NULL REFERENCES brands(id),
  code          TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  internal      INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
  created_at_ms INTEGER NOT NULL,
  UNIQUE (brand_id, code)
) STRICT;

CREATE TABLE rules (
  id            INTEGER PRIMARY KEY,
  brand_id      INTEGER NOT NULL REFERENCES brands(id),
  code          TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  version       INTEGER NOT NULL CHECK (version >= 1),
  name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  event_type    TEXT NOT NULL,
  priority      INTEGER NOT NULL CHECK (priority BETWEEN -1000000 AND 1000000),
  active        INTEGER NOT NULL CHECK (active IN (0, 1)),
  stop_after    INTEGER NOT NULL CHECK (stop_after IN (0, 1)),
  conditions    TEXT CHECK (conditions IS NULL OR json_valid(conditions)),
  actions       TEXT NOT NULL CHECK (json_valid(actions) AND json_type(actions) = 'array'),
  starts_at_ms  INTEGER,
  ends_at_ms    INTEGER,
  deleted_at_ms INTEGER,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  UNIQUE (brand_id, code),
  FOREIGN KEY (brand_id, event_type) REFERENCES event_types (brand_id, code),
  CHECK (starts_at_ms IS NULL OR ends_at_ms IS NULL OR starts_at_ms < ends_at_ms)
) STRICT;

-- Every version a rule ever had, as the API showed it: an event's execution names one.
CREATE TABLE rule_versions (
  rule_id       INTEGER NOT NULL REFERENCES rules(id),
  version       INTEGER NOT NULL CHECK (version >= 1),
  definition    TEXT NOT NULL CHECK (json_valid(definition)),
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (rule_id, version)
) WITHOUT ROWID, STRICT;

-- One row per processed event, unique per brand: the stored answer replays it.
CREATE TABLE events (
  id             INTEGER PRIMARY KEY,
  brand_id       INTEGER NOT NULL REFERENCES brands(id),
  event_id       TEXT NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
  event_type     TEXT NOT NULL,
  customer_id    INTEGER NOT NULL REFERENCES customers(id),
  occurred_at_ms INTEGER NOT NULL,
  request        TEXT NOT NULL CHECK (json_valid(request)),
  response       TEXT NOT NULL CHECK (json_valid(response)),
  created_at_ms  INTEGER NOT NULL,
  UNIQUE (brand_id, event_id)
) STRICT;
CREATE INDEX events_customer ON events (customer_id, id);

-- How many events of each type a customer had (internal tier events included).
CREATE TABLE customer_event_counts (
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  event_type  TEXT NOT NULL,
  count       INTEGER NOT NULL CHECK (count >= 1),
  PRIMARY KEY (customer_id, event_type)
) WITHOUT ROWID, STRICT;

CREATE TABLE tiers (
  id                INTEGER PRIMARY KEY,
  brand_id          INTEGER NOT NULL REFERENCES brands(id),
  code              TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  min_status_points INTEGER NOT NULL CHECK (min_status_points >= 0),
  created_at_ms     INTEGER NOT NULL,
  UNIQUE (brand_id, code),
  UNIQUE (brand_id, min_status_points)
) STRICT;

CREATE TABLE bonus_definitions (
  id            INTEGER PRIMARY KEY,
  brand_id      INTEGER NOT NULL REFERENCES brands(id),
  code          TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
  name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  period        TEXT NOT NULL CHECK (period IN ('once', 'year', 'month', 'week', 'day')),
  max_awards    INTEGER CHECK (max_awards IS NULL OR max_awards >= 1),
  awarded_count INTEGER NOT NULL DEFAULT 0 CHECK (awarded_count >= 0),
  created_at_ms INTEGER NOT NULL,
  UNIQUE (brand_id, code),
  CHECK (max_awards IS NULL OR awarded_count <= max_awards)
) STRICT;

-- At most once per customer per period: the UNIQUE constraint is the rule.
CREATE TABLE bonus_awards (
  id            INTEGER PRIMARY KEY,
  brand_id      INTEGER NOT NULL REFERENCES brands(id),
  definition_id INTEGER NOT NULL REFERENCES bonus_definitions(id),
  customer_id   INTEGER NOT NULL REFERENCES customers(id),
  period_key    TEXT NOT NULL CHECK (length(period_key) BETWEEN 1 AND 16),
  amount        INTEGER NOT NULL CHECK (amount > 0),
  asset_id      INTEGER NOT NULL REFERENCES assets(id),
  transfer_id   INTEGER NOT NULL REFERENCES transfers(id),
  event_id      TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  UNIQUE (definition_id, customer_id, period_key)
) STRICT;
CREATE INDEX bonus_awards_customer ON bonus_awards (customer_id, id);
