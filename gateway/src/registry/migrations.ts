/**
 * Versioned migrations of the PostgreSQL registry schema, applied in order by
 * `createPostgresRegistryStore().init()` and recorded in `schema_migrations`. Never edit or
 * reorder a released migration: append a new one with the next version.
 *
 * Key columns use the "C" collation so lists sort by code point like the other adapters,
 * whatever the database locale.
 */

export interface RegistryMigration {
  /** 1, 2, 3, ... without gaps. */
  readonly version: number;
  readonly name: string;
  /** One or more statements, run in the migration transaction. */
  readonly sql: string;
}

export const REGISTRY_MIGRATIONS: readonly RegistryMigration[] = [
  {
    version: 1,
    name: 'portfolio, principals, dead letters, register events',
    sql: `
CREATE TABLE sites (
  id text COLLATE "C" PRIMARY KEY,
  name text,
  timezone text NOT NULL,
  latitude double precision,
  longitude double precision,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE buildings (
  site text COLLATE "C" NOT NULL REFERENCES sites (id),
  id text COLLATE "C" NOT NULL,
  name text,
  type text,
  floor_area_m2 double precision,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site, id)
);

CREATE TABLE meters (
  site text COLLATE "C" NOT NULL,
  building text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  name text,
  quantity text,
  end_use text,
  parent text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site, building, id),
  FOREIGN KEY (site, building) REFERENCES buildings (site, id)
);

CREATE TABLE principals (
  username text COLLATE "C" PRIMARY KEY,
  role text NOT NULL CHECK (role IN ('device', 'service', 'operator')),
  meter_site text,
  meter_building text,
  meter_id text,
  secret_hash text NOT NULL,
  created_at_ms bigint NOT NULL,
  disabled_at_ms bigint,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((meter_site IS NULL) = (meter_building IS NULL) AND (meter_site IS NULL) = (meter_id IS NULL))
);

CREATE TABLE dead_letters (
  id bigserial PRIMARY KEY,
  received_at_ms bigint NOT NULL,
  source text NOT NULL,
  topic text COLLATE "C" NOT NULL,
  client_id text,
  username text,
  code text NOT NULL,
  reason text NOT NULL,
  details jsonb,
  payload text NOT NULL,
  payload_encoding text NOT NULL CHECK (payload_encoding IN ('utf8', 'base64')),
  payload_bytes integer NOT NULL,
  truncated boolean NOT NULL
);
CREATE INDEX dead_letters_code_id_idx ON dead_letters (code, id);
CREATE INDEX dead_letters_source_id_idx ON dead_letters (source, id);
CREATE INDEX dead_letters_topic_idx ON dead_letters (topic);

CREATE TABLE register_events (
  site text COLLATE "C" NOT NULL,
  building text COLLATE "C" NOT NULL,
  meter text COLLATE "C" NOT NULL,
  quantity text NOT NULL,
  ts bigint NOT NULL,
  type text NOT NULL CHECK (type IN ('rollover', 'reset', 'replacement', 'out_of_order')),
  previous_value double precision NOT NULL,
  value double precision NOT NULL,
  detected_at_ms bigint NOT NULL,
  note text,
  -- Order of (re)insertion: breaks ties between events of the same ts, newest first.
  seq bigserial NOT NULL,
  PRIMARY KEY (site, building, meter, quantity, ts, type)
);
CREATE INDEX register_events_meter_ts_idx ON register_events (site, building, meter, ts DESC, seq DESC);
`,
  },
  {
    version: 2,
    name: 'append-only records (analysis results, adjustments, definitions)',
    sql: `
CREATE TABLE records (
  id bigserial PRIMARY KEY,
  kind text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  recorded_at_ms bigint NOT NULL,
  -- jsonb keeps every digit of a number (numeric) but not object key order or a negative zero.
  body jsonb NOT NULL
);
-- One key of a kind, newest first; key prefixes (C collation lets starts_with use it).
CREATE INDEX records_kind_key_id_idx ON records (kind, key, id);
-- All keys of a kind, newest first.
CREATE INDEX records_kind_id_idx ON records (kind, id);
`,
  },
  {
    version: 3,
    name: 'aggregator principals bound to a site',
    sql: `
ALTER TABLE principals DROP CONSTRAINT principals_role_check;
ALTER TABLE principals ADD CONSTRAINT principals_role_check CHECK (role IN ('device', 'aggregator', 'service', 'operator'));
ALTER TABLE principals ADD COLUMN site text;
`,
  },
];
