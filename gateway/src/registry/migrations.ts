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
  {
    version: 4,
    name: 'finance registry: parties, building profiles, loans, covenants, balances, policies (append-only, versioned)',
    // Each version of an entity is a row keyed by (key, version); `body` holds the value exactly
    // as validated (what reads return), the typed columns and child tables mirror it for queries.
    // Triggers refuse UPDATE, DELETE and TRUNCATE: history is evidence (DOMAIN.md §7).
    sql: `
CREATE TABLE finance_parties (
  id text COLLATE "C" NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  recorded_at_ms bigint NOT NULL,
  source text,
  name text NOT NULL,
  roles text[] NOT NULL,
  unified_social_credit_code text,
  body jsonb NOT NULL,
  PRIMARY KEY (id, version)
);
CREATE INDEX finance_parties_roles_idx ON finance_parties USING gin (roles);
CREATE INDEX finance_parties_uscc_idx ON finance_parties (unified_social_credit_code);

CREATE TABLE finance_building_profiles (
  site text COLLATE "C" NOT NULL,
  building text COLLATE "C" NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  effective_from date NOT NULL,
  recorded_at_ms bigint NOT NULL,
  source text,
  type text NOT NULL,
  floor_area_m2 double precision NOT NULL CHECK (floor_area_m2 > 0),
  owner_party text COLLATE "C",
  operator_party text COLLATE "C",
  label_level text,
  label_kind text,
  label_valid_from date,
  label_valid_to date,
  body jsonb NOT NULL,
  PRIMARY KEY (site, building, version)
);
CREATE INDEX finance_building_profiles_effective_idx ON finance_building_profiles (site, building, effective_from, version DESC);
CREATE INDEX finance_building_profiles_owner_idx ON finance_building_profiles (owner_party);
CREATE INDEX finance_building_profiles_operator_idx ON finance_building_profiles (operator_party);

CREATE TABLE finance_loans (
  id text COLLATE "C" NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  recorded_at_ms bigint NOT NULL,
  source text,
  borrower text COLLATE "C" NOT NULL,
  lender text COLLATE "C" NOT NULL,
  kind text NOT NULL,
  asset_class text NOT NULL,
  currency text NOT NULL,
  origination_date date NOT NULL,
  maturity_date date NOT NULL,
  property_value_at_origination_cny numeric NOT NULL,
  base_margin_bp numeric NOT NULL,
  body jsonb NOT NULL,
  PRIMARY KEY (id, version),
  CHECK (origination_date < maturity_date)
);
CREATE INDEX finance_loans_lender_idx ON finance_loans (lender, id);
CREATE INDEX finance_loans_borrower_idx ON finance_loans (borrower, id);

CREATE TABLE finance_loan_buildings (
  loan_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  site text COLLATE "C" NOT NULL,
  building text COLLATE "C" NOT NULL,
  PRIMARY KEY (loan_id, version, site, building),
  FOREIGN KEY (loan_id, version) REFERENCES finance_loans (id, version)
);
CREATE INDEX finance_loan_buildings_building_idx ON finance_loan_buildings (site, building);

CREATE TABLE finance_covenants (
  loan_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  covenant_id text COLLATE "C" NOT NULL,
  kpi text NOT NULL,
  site text COLLATE "C" NOT NULL,
  building text COLLATE "C" NOT NULL,
  meter text COLLATE "C",
  operator text NOT NULL,
  threshold double precision NOT NULL,
  frequency text NOT NULL,
  first_test_date date NOT NULL,
  measurement_window_months integer NOT NULL,
  grace_days integer NOT NULL,
  cure_periods integer NOT NULL,
  bp_on_pass double precision NOT NULL,
  bp_on_fail double precision NOT NULL,
  at_risk_probability double precision NOT NULL,
  PRIMARY KEY (loan_id, version, covenant_id),
  FOREIGN KEY (loan_id, version) REFERENCES finance_loans (id, version)
);
CREATE INDEX finance_covenants_building_idx ON finance_covenants (site, building);

CREATE TABLE finance_loan_balances (
  loan_id text COLLATE "C" NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  effective_from date NOT NULL,
  recorded_at_ms bigint NOT NULL,
  source text,
  outstanding_cny numeric NOT NULL CHECK (outstanding_cny >= 0),
  body jsonb NOT NULL,
  PRIMARY KEY (loan_id, version)
);
CREATE INDEX finance_loan_balances_effective_idx ON finance_loan_balances (loan_id, effective_from, version DESC);

CREATE TABLE finance_policies (
  id text COLLATE "C" NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  recorded_at_ms bigint NOT NULL,
  source text,
  insurer text COLLATE "C" NOT NULL,
  insured text COLLATE "C" NOT NULL,
  mv_definition_id text,
  contract_price_cny_per_kwh numeric NOT NULL,
  deductible_cny numeric NOT NULL,
  limit_cny numeric NOT NULL,
  premium_cny numeric,
  effective_from date NOT NULL,
  effective_to date NOT NULL,
  body jsonb NOT NULL,
  PRIMARY KEY (id, version),
  CHECK (effective_from < effective_to)
);
CREATE INDEX finance_policies_insurer_idx ON finance_policies (insurer, id);
CREATE INDEX finance_policies_insured_idx ON finance_policies (insured, id);

CREATE TABLE finance_policy_buildings (
  policy_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  site text COLLATE "C" NOT NULL,
  building text COLLATE "C" NOT NULL,
  PRIMARY KEY (policy_id, version, site, building),
  FOREIGN KEY (policy_id, version) REFERENCES finance_policies (id, version)
);
CREATE INDEX finance_policy_buildings_building_idx ON finance_policy_buildings (site, building);

CREATE TABLE finance_policy_meters (
  policy_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  site text COLLATE "C" NOT NULL,
  building text COLLATE "C" NOT NULL,
  meter text COLLATE "C" NOT NULL,
  PRIMARY KEY (policy_id, version, site, building, meter),
  FOREIGN KEY (policy_id, version) REFERENCES finance_policies (id, version)
);
CREATE INDEX finance_policy_meters_meter_idx ON finance_policy_meters (site, building, meter);

CREATE TABLE finance_policy_periods (
  policy_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  period_id text COLLATE "C" NOT NULL,
  period_from date NOT NULL,
  period_to date NOT NULL,
  guaranteed_savings_kwh double precision NOT NULL CHECK (guaranteed_savings_kwh >= 0),
  PRIMARY KEY (policy_id, version, period_id),
  FOREIGN KEY (policy_id, version) REFERENCES finance_policies (id, version),
  CHECK (period_from < period_to)
);

CREATE FUNCTION finance_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'the finance registry is append-only: % on % refused (record a new version instead)', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END
$fn$;

DO $do$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['finance_parties', 'finance_building_profiles', 'finance_loans', 'finance_loan_buildings', 'finance_covenants',
                           'finance_loan_balances', 'finance_policies', 'finance_policy_buildings', 'finance_policy_meters', 'finance_policy_periods'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION finance_append_only()', t || '_append_only', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION finance_append_only()', t || '_no_truncate', t);
  END LOOP;
END
$do$;
`,
  },
];
