-- wiretop history, schema version 1. Open with `sqlite3 wiretop.db`; the views at the end
-- give readable rows (times in UTC; `wiretop history` prints local time).
--
-- Every traffic row is one bucket of one key: kind 1 = 5 minutes, 2 = hour, 3 = day,
-- 4 = month, 5 = year; ts is the bucket's start (unix seconds; days, months and years
-- start at local midnight of the recorder). Rows hold deltas only; the monitor turns
-- kernel counters into deltas (wraps and resets handled there).

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- What a traffic row counts: an interface (a = name), a process identity (a = comm,
-- b = executable path, c = user: a pid is not an identity), a remote host (a = address),
-- a local service port (a = protocol, b = port). '(other)' in a is what the top N leaves out.
CREATE TABLE keys (
  id  INTEGER PRIMARY KEY,
  cat TEXT NOT NULL CHECK (cat IN ('iface', 'proc', 'host', 'port')),
  a   TEXT NOT NULL,
  b   TEXT NOT NULL DEFAULT '',
  c   TEXT NOT NULL DEFAULT '',
  UNIQUE (cat, a, b, c)
);

CREATE TABLE traffic (
  kind       INTEGER NOT NULL,
  ts         INTEGER NOT NULL,
  key        INTEGER NOT NULL REFERENCES keys (id),
  rx_bytes   INTEGER NOT NULL DEFAULT 0,
  tx_bytes   INTEGER NOT NULL DEFAULT 0,
  rx_packets INTEGER NOT NULL DEFAULT 0,
  tx_packets INTEGER NOT NULL DEFAULT 0,
  rx_errors  INTEGER NOT NULL DEFAULT 0,
  tx_errors  INTEGER NOT NULL DEFAULT 0,
  rx_drops   INTEGER NOT NULL DEFAULT 0,
  tx_drops   INTEGER NOT NULL DEFAULT 0,
  secs       REAL    NOT NULL DEFAULT 0, -- seconds of recording the row covers (interfaces)
  PRIMARY KEY (kind, ts, key) -- a bucket's rows are one range; no second index (file size)
) WITHOUT ROWID;

-- TCP sockets per state: the largest count seen in the bucket, and sum / n its mean.
CREATE TABLE tcp (
  kind  INTEGER NOT NULL,
  ts    INTEGER NOT NULL,
  state TEXT    NOT NULL,
  max   INTEGER NOT NULL,
  sum   INTEGER NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (kind, ts, state)
) WITHOUT ROWID;

-- The kernel's TCP counters (/proc/net/snmp, /proc/net/netstat) as deltas per bucket.
CREATE TABLE kernel (
  kind  INTEGER NOT NULL,
  ts    INTEGER NOT NULL,
  name  TEXT    NOT NULL,
  value INTEGER NOT NULL,
  PRIMARY KEY (kind, ts, name)
) WITHOUT ROWID;

-- The busiest days of each interface, kept after their day rows are pruned (vnstat's top).
CREATE TABLE top_days (
  key      INTEGER NOT NULL REFERENCES keys (id),
  ts       INTEGER NOT NULL,
  rx_bytes INTEGER NOT NULL,
  tx_bytes INTEGER NOT NULL,
  PRIMARY KEY (key, ts)
) WITHOUT ROWID;

-- Times when nothing was recorded: the recorder was stopped, the host slept, or a counter
-- jumped more than a link can carry. Never traffic.
CREATE TABLE gaps (
  start  INTEGER NOT NULL,
  end    INTEGER NOT NULL,
  reason TEXT    NOT NULL
);

-- Alerts of the detectors, one row per alert (rule, key, started), updated as it changes.
CREATE TABLE alerts (
  rule     TEXT    NOT NULL,
  key      TEXT    NOT NULL,
  started  INTEGER NOT NULL,
  severity TEXT    NOT NULL,
  state    TEXT    NOT NULL,
  resolved INTEGER,
  summary  TEXT    NOT NULL,
  evidence TEXT    NOT NULL, -- JSON
  PRIMARY KEY (rule, key, started)
) WITHOUT ROWID;

CREATE VIEW traffic_v AS
  SELECT CASE t.kind WHEN 1 THEN '5min' WHEN 2 THEN 'hour' WHEN 3 THEN 'day' WHEN 4 THEN 'month' ELSE 'year' END AS kind,
         datetime(t.ts, 'unixepoch') AS start, k.cat, k.a, k.b, k.c,
         t.rx_bytes, t.tx_bytes, t.rx_packets, t.tx_packets, t.rx_errors, t.tx_errors, t.rx_drops, t.tx_drops, t.secs
  FROM traffic t JOIN keys k ON k.id = t.key;
