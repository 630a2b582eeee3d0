-- Stored responses of POST requests made with an Idempotency-Key header, written in the
-- same transaction as the effect they describe, so a replay returns exactly that response.
CREATE TABLE idempotency_keys (
  id            INTEGER PRIMARY KEY,
  scope         TEXT NOT NULL CHECK (length(scope) BETWEEN 1 AND 32),
  key           TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
  method        TEXT NOT NULL,
  path          TEXT NOT NULL,
  request       TEXT NOT NULL CHECK (json_valid(request)),
  status        INTEGER NOT NULL CHECK (status BETWEEN 200 AND 299),
  response      TEXT NOT NULL CHECK (json_valid(response)),
  created_at_ms INTEGER NOT NULL,
  UNIQUE (scope, key)
) STRICT;
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at_ms);
