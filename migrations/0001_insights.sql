-- Insights (D1): one row per OTP and one per event, written from the record
-- shards' outboxes (worker/src/insights/). Applied by `wrangler d1 migrations
-- apply INSIGHTS_DB` (`--local` in scripts/dev.sh), and by the test harness.
--
-- Privacy: a number is kept as its range (the E.164 form without its last 4
-- digits) and a keyed hash of the whole number (HMAC-SHA256 under HASH_KEY), never
-- other digits; no PIN, no message text.

-- One row per OTP: sent, refused before sending (REFUSED), or removed because its
-- SMS could not be sent (UNSENT).
CREATE TABLE otps (
  otp_id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  -- 'smscx' or 'dexatel': the API the OTP was created through.
  dialect TEXT,
  -- ISO 3166-1 alpha-2 ('001' for international networks).
  country TEXT,
  -- The E.164 number without its last 4 digits ('+3361242').
  num_range TEXT,
  -- HMAC-SHA256(HASH_KEY, "number." app "." e164), hex: exact search, no digits.
  number_hash TEXT,
  -- The gateway type of the first send (outbox, webhook, twilio, vonage, smscx, dexatel).
  gateway TEXT,
  test INTEGER NOT NULL DEFAULT 0,
  track_id TEXT,
  -- PENDING, VERIFIED, FAILED, EXPIRED, CANCELLED, REFUSED or UNSENT, and when
  -- it was reached (Unix seconds).
  status TEXT NOT NULL,
  status_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 0,
  -- SMS sent (resends included), their parts and cost: sums of the send events.
  sms INTEGER NOT NULL DEFAULT 0,
  parts INTEGER NOT NULL DEFAULT 0,
  cost REAL NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX otps_app_created ON otps (app_id, created_at);
CREATE INDEX otps_created ON otps (created_at);
CREATE INDEX otps_pending ON otps (expires_at) WHERE status = 'PENDING';
CREATE INDEX otps_app_number ON otps (app_id, number_hash, created_at);
CREATE INDEX otps_app_track ON otps (app_id, track_id) WHERE track_id IS NOT NULL;

-- Events: 'send' (an SMS went out: +1 SMS, its parts and cost), 'unsent' (a send
-- taken back: its SMS could not be sent), 'check' (a PIN compared: result
-- 'verified' or the error's reason), 'refused' (a send or a check refused before
-- anything was stored or sent: reason, code, until when).
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  at INTEGER NOT NULL,
  otp_id TEXT,
  -- refused: 'send' or 'check'.
  op TEXT,
  -- check: 'verified' or the reason of the refusal (invalid_pin, otp_expired, …).
  result TEXT,
  -- refused: the reason (rate_limited, number_blocked, …), its error code, and
  -- when a retry can succeed.
  reason TEXT,
  code INTEGER,
  until_at INTEGER,
  dialect TEXT,
  country TEXT,
  num_range TEXT,
  number_hash TEXT,
  gateway TEXT,
  sms INTEGER NOT NULL DEFAULT 0,
  parts INTEGER NOT NULL DEFAULT 0,
  cost REAL NOT NULL DEFAULT 0
);
CREATE INDEX events_app_at ON events (app_id, at);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_otp ON events (otp_id) WHERE otp_id IS NOT NULL;
