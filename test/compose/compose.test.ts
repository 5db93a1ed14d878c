/**
 * The Docker deployment, proven without Docker (there is no Docker daemon in CI):
 *
 * - docker-compose.yml passes dclint with every rule (.dclintrc, no warnings) and the Compose
 *   Specification's JSON schema as dclint bundles it; both are shown to reject broken copies.
 * - Its structure: health checks, restart policies, start order, named volumes, ports on
 *   127.0.0.1, no secret in the file, env files with committed templates whose shared secrets
 *   agree, the Grafana mounts, the database init hooks; the Dockerfile's stages, user, health
 *   check and build context (.dockerignore).
 * - The wiring, in-process: every service that runs `wattproof ...` gets the environment its
 *   container would have (the image's ENV, then its env_file templates, then `environment:`),
 *   validated by the CLI's own config schemas; then the stack runs as child processes with
 *   exactly those commands and environments, in the order `depends_on` gives, each started once
 *   the previous ones pass their compose health checks. Only addresses change: a service name
 *   and container port (`postgres:5432`) become 127.0.0.1 and a free port of a real server the
 *   test starts (PostgreSQL; InfluxDB 1.6 from Debian for InfluxDB 2.7, so the 2.x-only parts,
 *   the v2 write path and the DBRP hook, are checked structurally), and the data directory
 *   becomes a temp folder.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { accessSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@wattproof/core';
import { CONFIG_SECTIONS } from '../../bin/commands/config.js';
import { GATEWAY_NODE_ARGS } from '@wattproof/gateway';
import { INGEST_NODE_ARGS } from '@wattproof/ingest';
import { USAGE } from '../../bin/cli.js';
import { createServer, type Server } from 'node:http';
import { keyedFetch } from '../support/api-keys.js';
import { startInfluxDb, type TestInfluxDb } from '../support/influxdb.js';
import { freePort } from '../support/net.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { REPO_ROOT, runCli, startService, type Service } from '../support/processes.js';
import {
  COMPOSE_PATH,
  dockerIgnored,
  execForm,
  interpolate,
  parseEnvFile,
  readCompose,
  readDockerfile,
  readDockerignore,
  readEnvFile,
  stageEnv,
  type ComposeService,
} from './files.js';

const compose = readCompose();
const services = compose.services;
const dockerfile = readDockerfile();
const runtimeStage = dockerfile.stages.at(-1)!;
const IMAGE = 'wattproof:local';
const wattproofServices = Object.keys(services).filter((n) => services[n]!.image === IMAGE);
/** One-shot services: run to completion on every `up`, no health check. */
const ONE_SHOT = ['provision'];
/**
 * How long one service may take to start and pass its health check. Generous: a `wattproof`
 * process starts in about a second on an idle machine, but this suite shares its cores with the
 * rest of the tests (tsx compiles every source at start).
 */
const STARTUP_TIMEOUT_MS = 180_000;

/** Where each service listens inside its container, and which config key sets it. */
const LISTEN: Record<string, Record<string, number>> = {
  gateway: { GATEWAY_MQTT_PORT: 1883, GATEWAY_HTTP_PORT: 9101 },
  ingest: { INGEST_HTTP_PORT: 9102 },
  api: { API_PORT: 8080 },
};

function service(name: string): ComposeService {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

/** The environment a service's container starts with, with the committed env-file templates. */
function containerEnv(name: string, envFiles: (path: string) => Record<string, string> = (p) => readEnvFile(`${p}.example`)): Record<string, string> {
  const s = service(name);
  const env: Record<string, string> = s.image === IMAGE ? stageEnv(runtimeStage) : {};
  for (const file of s.env_file ?? []) Object.assign(env, envFiles(file));
  for (const [k, v] of Object.entries(s.environment ?? {})) env[k] = interpolate(String(v));
  return env;
}

function run(file: string, args: string[], env: Record<string, string | undefined>, timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO_ROOT, env, timeout: timeoutMs }, (err: ExecFileException | null, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function poll<T>(what: string | (() => string), timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('docker-compose.yml against the Compose Specification', () => {
  const dclint = join(REPO_ROOT, 'node_modules/dclint/bin/dclint.cjs');
  const lint = (file: string) => run(process.execPath, [dclint, file, '-c', join(REPO_ROOT, '.dclintrc'), '--max-warnings', '0', '-f', 'json', '--color', 'false'], { ...process.env });
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'wattproof-compose-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('passes dclint with every rule of .dclintrc and no warnings', async () => {
    const r = await lint(COMPOSE_PATH);
    const report = JSON.parse(r.stdout) as Array<{ messages: Array<{ rule: string; message: string; line: number }> }>;
    expect(report.flatMap((f) => f.messages.map((m) => `${m.line}: ${m.rule}: ${m.message}`))).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('dclint fails a copy with a port on every interface, or a key the specification does not know', async () => {
    const text = readFileSync(COMPOSE_PATH, 'utf8');
    const unbound = join(scratch, 'unbound', 'docker-compose.yml');
    const misspelt = join(scratch, 'misspelt', 'docker-compose.yml');
    for (const [file, content] of [
      [unbound, text.replace('"127.0.0.1:8080:8080"', '"8080:8080"')],
      [misspelt, text.replace('    restart: unless-stopped\n', '    restart: unless-stopped\n    restrat: always\n')],
    ] as const) {
      expect(content).not.toBe(text);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, content);
    }
    const r1 = await lint(unbound);
    expect(r1.code).not.toBe(0);
    expect(r1.stdout).toContain('no-unbound-port-interfaces');
    const r2 = await lint(misspelt);
    expect(r2.code).not.toBe(0);
    expect(r2.stdout).toMatch(/invalid-schema|restrat/);
  });

  it("validates against the compose-spec JSON schema bundled with dclint (and that schema rejects what it should)", () => {
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/dclint/schemas/compose.schema.json'), 'utf8')) as { title: string };
    expect(schema.title).toBe('Compose Specification');
    // The schema names draft-07 by an https URL Ajv does not know as its meta-schema: skip the meta check.
    const validate = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, validateSchema: false }).compile(schema);
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true);
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.api!.healthcheck = { test: ['CMD', 'true'], intervall: '5s' };
    expect(validate(broken)).toBe(false);
  });
});

describe('docker-compose.yml structure', () => {
  it('is the project "wattproof" with the databases, Grafana and every Wattproof service', () => {
    expect(compose.name).toBe('wattproof');
    expect(Object.keys(services).sort()).toEqual(['api', 'gateway', 'grafana', 'influxdb', 'ingest', 'postgres', 'provision', 'simulator']);
    expect(wattproofServices.sort()).toEqual(['api', 'gateway', 'ingest', 'provision', 'simulator']);
    expect(service('influxdb').image).toBe('influxdb:2.7');
    expect(service('postgres').image).toBe('postgres:16');
    expect(service('grafana').image).toMatch(/^grafana\/grafana-oss:\d+\.\d+\.\d+$/);
  });

  it('runs every Wattproof service from the one image built here, with a command the CLI knows', () => {
    const commands = [...USAGE.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
    const builds = new Set<string>();
    for (const name of wattproofServices) {
      const s = service(name);
      expect(s.build?.context, name).toBe('.');
      expect(s.pull_policy, name).toBe('build');
      builds.add(JSON.stringify(s.build));
      expect(commands, name).toContain(s.command?.[0]);
      if (!ONE_SHOT.includes(name)) expect(s.init, `${name}: init reaps children (Chromium of the PDF reports)`).toBe(true);
    }
    expect(builds.size, 'every service builds the same image the same way').toBe(1);
    expect(service('simulator').command).toContain('mqtt://gateway:1883');
  });

  it('gives every long-running service a health check and restart: unless-stopped; the one-shot neither', () => {
    for (const [name, s] of Object.entries(services)) {
      if (ONE_SHOT.includes(name)) {
        expect(s.restart, name).toBe('no');
        expect(s.healthcheck?.disable, name).toBe(true);
        continue;
      }
      expect(s.restart, name).toBe('unless-stopped');
      expect(s.healthcheck?.disable, name).toBeUndefined();
      expect(s.healthcheck?.test?.[0], name).toMatch(/^CMD(-SHELL)?$/);
      for (const k of ['interval', 'timeout', 'start_period'] as const) expect(s.healthcheck?.[k], `${name}.healthcheck.${k}`).toMatch(/^\d+s$/);
      expect(s.healthcheck?.retries, name).toBeGreaterThan(0);
      // No curl in the Wattproof image: its probes are node scripts.
      if (s.image === IMAGE) {
        expect(s.healthcheck?.test?.slice(0, 3), name).toEqual(['CMD', 'node', 'deploy/healthcheck.mjs']);
        // The probes send no API key: only the open routes answer them (docs/access.md).
        expect(new URL(s.healthcheck!.test![3]!).pathname, name).toMatch(/^\/(health|ready)$/);
      }
    }
    // The simulator has no HTTP port: it is healthy while the ingest stores fresh readings.
    expect(service('simulator').healthcheck?.test?.slice(3)).toEqual(['http://ingest:9102/health', '--fresh-s', '600']);
  });

  it('starts a service only once what it needs is healthy (or, for the one-shot, completed)', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
        expect(condition, `${name} -> ${dep}`).toBe(ONE_SHOT.includes(dep) ? 'service_completed_successfully' : 'service_healthy');
      }
    }
    expect(Object.keys(service('ingest').depends_on ?? {}).sort()).toEqual(['gateway', 'influxdb', 'provision']);
    expect(Object.keys(service('simulator').depends_on ?? {})).toContain('ingest');
  });

  it('publishes ports on 127.0.0.1 only, and each at the port its service listens on', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) {
        expect(p, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
        const containerPort = Number(p.split(':')[2]);
        if (LISTEN[name]) expect(Object.values(LISTEN[name]), `${name} publishes ${p}`).toContain(containerPort);
      }
    }
    expect(service('api').ports).toEqual(['127.0.0.1:8080:8080']);
    expect(service('gateway').ports).toEqual(['127.0.0.1:1883:1883']);
    expect(service('postgres').ports).toBeUndefined();
  });

  it('sets each listening port explicitly and probes its health on that port', () => {
    for (const [name, keys] of Object.entries(LISTEN)) {
      for (const [key, port] of Object.entries(keys)) expect(service(name).environment?.[key], `${name} ${key}`).toBe(String(port));
      const url = service(name).healthcheck!.test![3]!;
      expect(url, name).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/health$/);
      expect(Object.values(keys), name).toContain(Number(new URL(url).port));
    }
    // Explicit stores: a missing URL fails the start instead of falling back to embedded files.
    for (const name of wattproofServices) expect(service(name).environment?.REGISTRY_STORE, name).toBe('postgres');
    for (const name of ['ingest', 'api']) expect(service(name).environment?.READINGS_STORE, name).toBe('influxdb');
  });

  it('runs the gateway and the ingest with the Node arguments the benchmarks measure them with', () => {
    // The image's entrypoint with the flags between node and the script (V8 flags Node refuses in NODE_OPTIONS).
    const entrypoint = execForm(runtimeStage.instructions.find((i) => i.op === 'ENTRYPOINT')!.args);
    expect(service('gateway').entrypoint).toEqual([entrypoint[0], ...GATEWAY_NODE_ARGS, ...entrypoint.slice(1)]);
    expect(service('ingest').entrypoint).toEqual([entrypoint[0], ...INGEST_NODE_ARGS, ...entrypoint.slice(1)]);
    for (const name of wattproofServices.filter((n) => n !== 'ingest' && n !== 'gateway')) expect(service(name).entrypoint, name).toBeUndefined();
    for (const name of wattproofServices) expect(service(name).environment?.NODE_OPTIONS, name).toBeUndefined();
  });

  it('keeps state in named volumes and mounts only files of this repository', () => {
    const declared = Object.keys(compose.volumes);
    const used = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const [source, target, mode] = v.split(':') as [string, string | undefined, string | undefined];
        expect(target, `${name}: ${v} (an anonymous volume)`).toMatch(/^\//);
        if (source.startsWith('./')) {
          expect(existsSync(join(REPO_ROOT, source)), `${name}: ${source} exists in the repository`).toBe(true);
          expect(mode, `${name}: ${v} read-only`).toBe('ro');
        } else {
          expect(declared, `${name}: volume ${source}`).toContain(source);
          used.add(source);
        }
      }
    }
    expect([...used].sort()).toEqual(declared.sort());
    expect(service('postgres').volumes).toContain('postgres-data:/var/lib/postgresql/data');
    expect(service('influxdb').volumes).toContain('influxdb-data:/var/lib/influxdb2');
    expect(service('grafana').volumes).toContain('grafana-data:/var/lib/grafana');
  });

  it('mounts the Grafana provisioning and dashboards from dashboards/grafana (directories in the repository)', () => {
    const mounts = service('grafana').volumes ?? [];
    expect(mounts).toContain('./dashboards/grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(mounts).toContain('./dashboards/grafana/dashboards:/var/lib/grafana/dashboards:ro');
    for (const dir of ['dashboards/grafana/provisioning', 'dashboards/grafana/dashboards']) {
      expect(existsSync(join(REPO_ROOT, dir)) && statSync(join(REPO_ROOT, dir)).isDirectory(), `${dir} is a directory`).toBe(true);
    }
  });

  it('defines every variable the Grafana provisioning files expand', () => {
    const dir = join(REPO_ROOT, 'dashboards/grafana/provisioning');
    const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    const env = containerEnv('grafana');
    const missing: string[] = [];
    const scan = (where: string, value: unknown): void => {
      if (typeof value === 'string') {
        // Grafana's provisioning expands $NAME, ${NAME} and $__env{NAME}; $$ is a literal $.
        for (const m of value.replace(/\$\$/g, '').matchAll(/\$(?:__env\{([A-Za-z_][A-Za-z0-9_]*)\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g)) {
          const name = m[1] ?? m[2] ?? m[3]!;
          if (!(name in env)) missing.push(`${where}: $${name}`);
        }
      } else if (Array.isArray(value)) value.forEach((v, i) => scan(`${where}[${i}]`, v));
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) scan(`${where}.${k}`, v);
    };
    for (const f of files) {
      const doc = parseYaml(readFileSync(join(dir, f), 'utf8')) as { groups?: Array<{ rules?: Array<Record<string, unknown>> }> };
      // Alert rules keep their query models and annotations raw (templates such as $labels and
      // macros such as $timeFilter); Grafana expands variables everywhere else.
      for (const g of doc.groups ?? []) for (const r of g.rules ?? []) {
        delete r.annotations;
        for (const d of (r.data as Array<Record<string, unknown>> | undefined) ?? []) delete d.model;
      }
      scan(f, doc);
    }
    expect(missing).toEqual([]);
  });

  it('holds no secret: secrets come from env files, whose committed templates hold placeholders only', () => {
    const text = readFileSync(COMPOSE_PATH, 'utf8');
    expect(text, 'credentials in a URL').not.toMatch(/:\/\/[^/\s:@"']+:[^/\s@"']+@/);
    expect(text).not.toMatch(/(password|passwd|secret|token)["']?\s*[:=]\s*["']?[A-Za-z0-9+/_-]{4,}/i);
    for (const [name, s] of Object.entries(services)) {
      for (const key of Object.keys(s.environment ?? {})) expect(key, `${name}: ${key} belongs in an env file`).not.toMatch(/PASSWORD|TOKEN|SECRET|_KEY$/);
      for (const file of s.env_file ?? []) {
        expect(file, name).toMatch(/^\.\/deploy\/env\/[a-z]+\.env$/);
        expect(existsSync(join(REPO_ROOT, `${file}.example`)), `${file}.example is committed`).toBe(true);
      }
    }
    const examples = readdirSync(join(REPO_ROOT, 'deploy/env')).filter((f) => f.endsWith('.env.example'));
    expect(examples.sort()).toEqual(['grafana.env.example', 'influxdb.env.example', 'postgres.env.example', 'wattproof.env.example']);
    for (const f of examples) {
      for (const [key, value] of Object.entries(readEnvFile(`deploy/env/${f}`))) {
        if (/PASSWORD|TOKEN|SECRET/.test(key)) expect(value, `${f} ${key}`).toMatch(/^change-me-[a-z0-9-]+$/);
      }
      expect(text, `a placeholder of ${f} in docker-compose.yml`).not.toContain('change-me-');
    }
    const url = new URL(readEnvFile('deploy/env/wattproof.env.example').REGISTRY_POSTGRES_URL!);
    expect(url.password).toMatch(/^change-me-/);
  });

  it('keeps the real env files out of git and out of the image', async () => {
    const r = await run('git', ['check-ignore', '--no-index', 'deploy/env/wattproof.env', 'deploy/env/postgres.env', 'deploy/env/influxdb.env', 'deploy/env/grafana.env'], { ...process.env });
    expect(r.stdout.trim().split('\n')).toHaveLength(4);
    const tracked = await run('git', ['check-ignore', '--no-index', 'deploy/env/wattproof.env.example'], { ...process.env });
    expect(tracked.code, 'the templates are not ignored').toBe(1);
    const ignore = readDockerignore();
    for (const p of ['deploy/env/wattproof.env', 'deploy/env/wattproof.env.example', '.env', 'node_modules/x', 'dashboards/node_modules/x', 'data/readings.duckdb', '.git/HEAD']) {
      expect(dockerIgnored(p, ignore), `${p} is not sent to the builder`).toBe(true);
    }
  });

  it('agrees across env files on every value two services share', () => {
    const influx = readEnvFile('deploy/env/influxdb.env.example');
    const postgres = readEnvFile('deploy/env/postgres.env.example');
    const wattproof = readEnvFile('deploy/env/wattproof.env.example');
    const grafana = readEnvFile('deploy/env/grafana.env.example');
    expect(wattproof.INFLUX_TOKEN).toBe(influx.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN);
    expect(wattproof.INFLUX_ORG).toBe(influx.DOCKER_INFLUXDB_INIT_ORG);
    expect(wattproof.INFLUX_DATABASE).toBe(influx.DOCKER_INFLUXDB_INIT_BUCKET);
    expect(wattproof.INFLUX_URL).toBe('http://influxdb:8086');
    const pgUrl = new URL(wattproof.REGISTRY_POSTGRES_URL!);
    expect([pgUrl.host, decodeURIComponent(pgUrl.username), decodeURIComponent(pgUrl.password), pgUrl.pathname.slice(1)]).toEqual([
      'postgres:5432',
      postgres.POSTGRES_USER,
      postgres.POSTGRES_PASSWORD,
      postgres.POSTGRES_DB,
    ]);
    expect(wattproof.INGEST_MQTT_PASSWORD!.length).toBeGreaterThanOrEqual(16);
    expect([grafana.INFLUX_URL, grafana.INFLUX_DATABASE, grafana.INFLUX_TOKEN]).toEqual([wattproof.INFLUX_URL, wattproof.INFLUX_DATABASE, wattproof.INFLUX_TOKEN]);
    expect([grafana.INFLUX_USERNAME, grafana.INFLUX_PASSWORD]).toEqual([influx.INFLUX_V1_READ_USERNAME, influx.INFLUX_V1_READ_PASSWORD]);
    expect([grafana.POSTGRES_HOST, grafana.POSTGRES_DB]).toEqual(['postgres:5432', postgres.POSTGRES_DB]);
    expect([grafana.POSTGRES_USER, grafana.POSTGRES_PASSWORD]).toEqual([postgres.GRAFANA_POSTGRES_USER, postgres.GRAFANA_POSTGRES_PASSWORD]);
    expect(grafana.POSTGRES_USER, "Grafana's login is not the owner's").not.toBe(postgres.POSTGRES_USER);
    expect(() => new URL(grafana.GRAFANA_ALERT_WEBHOOK_URL!)).not.toThrow();
  });

  it('deploy/init-env.sh writes every env file with fresh secrets, shared where the templates share them, and never overwrites', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattproof-env-'));
    try {
      for (const f of readdirSync(join(REPO_ROOT, 'deploy/env')).filter((n) => n.endsWith('.env.example'))) cpSync(join(REPO_ROOT, 'deploy/env', f), join(dir, f));
      const r = await run('sh', [join(REPO_ROOT, 'deploy/init-env.sh'), dir], { ...process.env });
      expect(r.code, r.stderr).toBe(0);
      const placeholderValues = new Map<string, string>();
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.env.example'))) {
        const example = readFileSync(join(dir, f), 'utf8');
        const written = readFileSync(join(dir, f.replace(/\.example$/, '')), 'utf8');
        expect(statSync(join(dir, f.replace(/\.example$/, ''))).mode & 0o077, `${f}: only the owner may read it`).toBe(0);
        expect(written).not.toContain('change-me-');
        // Line by line: every placeholder became a 32-hex secret, the same one wherever it recurs.
        const wl = written.split('\n');
        for (const [i, line] of example.split('\n').entries()) {
          const names = [...line.matchAll(/change-me-[a-z0-9-]*[a-z0-9]/g)].map((m) => m[0]);
          if (names.length === 0) {
            expect(wl[i]).toBe(line);
            continue;
          }
          const pattern = new RegExp(`^${line.split(/change-me-[a-z0-9-]*[a-z0-9]/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('([0-9a-f]{32})')}$`);
          const m = pattern.exec(wl[i]!);
          expect(m, `${f}:${i + 1}`).not.toBeNull();
          for (const [j, name] of names.entries()) {
            const value = m![j + 1]!;
            expect(placeholderValues.get(name) ?? value, name).toBe(value);
            placeholderValues.set(name, value);
          }
        }
      }
      expect(new Set(placeholderValues.values()).size, 'one secret per placeholder').toBe(placeholderValues.size);
      // The written files satisfy every Wattproof config schema.
      const written = (p: string) => parseEnvFile(readFileSync(join(dir, p.replace('./deploy/env/', '')), 'utf8'));
      for (const name of wattproofServices) for (const { schema } of CONFIG_SECTIONS) loadConfig(schema, containerEnv(name, written));
      const before = readFileSync(join(dir, 'wattproof.env'), 'utf8');
      const again = await run('sh', [join(REPO_ROOT, 'deploy/init-env.sh'), dir], { ...process.env });
      expect(again.code).not.toBe(0);
      expect(again.stderr).toContain('already there');
      expect(readFileSync(join(dir, 'wattproof.env'), 'utf8')).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('initialises InfluxDB 2.7 with the DBRP mapping the InfluxQL reads need (first start only)', async () => {
    expect(service('influxdb').volumes).toContain('./deploy/influxdb/initdb:/docker-entrypoint-initdb.d:ro');
    const env = containerEnv('influxdb');
    expect(env.DOCKER_INFLUXDB_INIT_MODE).toBe('setup');
    for (const k of ['DOCKER_INFLUXDB_INIT_USERNAME', 'DOCKER_INFLUXDB_INIT_PASSWORD', 'DOCKER_INFLUXDB_INIT_ORG', 'DOCKER_INFLUXDB_INIT_BUCKET', 'DOCKER_INFLUXDB_INIT_ADMIN_TOKEN']) expect(env[k], k).toBeTruthy();
    const scripts = readdirSync(join(REPO_ROOT, 'deploy/influxdb/initdb'));
    expect(scripts).toEqual(['10-wattproof-v1-compat.sh']);
    const file = join(REPO_ROOT, 'deploy/influxdb/initdb', scripts[0]!);
    // The image runs them with run-parts, which skips files without the executable bit.
    expect(() => accessSync(file, constants.X_OK)).not.toThrow();
    expect((await run('bash', ['-n', file], { ...process.env })).code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/influx v1 dbrp create --bucket-id "\$bucket_id" --db "\$db" --rp "\$rp" --default/);
    expect(text).toContain('DOCKER_INFLUXDB_INIT_BUCKET_ID');
    expect(text).toMatch(/influx v1 auth create --username "\$INFLUX_V1_READ_USERNAME" --password "\$INFLUX_V1_READ_PASSWORD" \\\n\s+--read-bucket "\$bucket_id"/);
  });
});

describe('Dockerfile', () => {
  const ignore = readDockerignore();

  it('has a dependency stage and a runtime stage on Debian slim, running as a non-root user', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['deps', 'runtime']);
    for (const s of dockerfile.stages) expect(s.from).toBe('node:20-bookworm-slim');
    const deps = dockerfile.stages[0]!;
    expect(deps.instructions.some((i) => i.op === 'RUN' && /npm ci --omit=dev\b/.test(i.args))).toBe(true);
    const users = runtimeStage.instructions.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(users.at(-1)).toBe('node');
    expect(runtimeStage.instructions.find((i) => i.op === 'WORKDIR')?.args).toBe('/app');
    expect(execForm(runtimeStage.instructions.find((i) => i.op === 'ENTRYPOINT')!.args)).toEqual(['node', 'bin/wattproof.js']);
    expect(stageEnv(runtimeStage).WATTPROOF_DATA_DIR).toBe('/var/lib/wattproof');
    expect(runtimeStage.instructions.some((i) => i.op === 'RUN' && i.args.includes('chown node:node /var/lib/wattproof'))).toBe(true);
  });

  it('installs every workspace and copies its sources, each to the same path under /app, none excluded by .dockerignore', () => {
    const workspaces = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
    const deps = dockerfile.stages[0]!;
    const depsCopies = deps.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    for (const ws of workspaces) expect(depsCopies, ws).toContain(`${ws}/package.json ${ws}/`);
    expect(depsCopies).toContain('package.json package-lock.json ./');
    const copies = runtimeStage.instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'));
    const copied = new Set<string>();
    for (const { args } of copies) {
      const parts = args.split(/\s+/);
      const dest = parts.pop()!;
      for (const src of parts) {
        expect(dest === './' || dest === src, `COPY ${args}: same path under /app`).toBe(true);
        expect(existsSync(join(REPO_ROOT, src)), src).toBe(true);
        expect(dockerIgnored(src, ignore), `${src} is excluded by .dockerignore`).toBe(false);
        copied.add(src);
      }
    }
    for (const p of [...workspaces, 'bin', 'tsconfig.json', 'LICENSE', 'NOTICE', 'deploy/healthcheck.mjs']) expect(copied, p).toContain(p);
    expect(runtimeStage.instructions.some((i) => i.op === 'COPY' && i.args === '--from=deps /app ./')).toBe(true);
  });

  it('declares a health check that needs only node', () => {
    const hc = runtimeStage.instructions.find((i) => i.op === 'HEALTHCHECK');
    expect(hc).toBeDefined();
    expect(hc!.args).toMatch(/--interval=\d+s --timeout=\d+s --start-period=\d+s --retries=\d+ CMD \[/);
    expect(execForm(hc!.args)).toEqual(['node', 'deploy/healthcheck.mjs']);
  });
});

describe('the stack from docker-compose.yml, run in-process', () => {
  let influx: TestInfluxDb;
  let pgServer: TestPostgres;
  let dataDir: string;
  /** `service:containerPort` -> `127.0.0.1:localPort`. */
  const network = new Map<string, string>();
  /** Local port of each service's container port. */
  const localPorts = new Map<string, number>();
  const running: Service[] = [];
  /** An admin API key made the way the README says (`docker compose run --rm provision apikey add ...`). */
  let apiKey: string;

  /**
   * Replaces compose addresses by the local ones: `gateway:1883` (after `//`, `@` or at the
   * start) anywhere, and, inside service `self`, its own loopback `127.0.0.1:<container port>`.
   */
  function localize(value: string, self?: string): string {
    return value.replace(/(^|\/\/|@)([a-z0-9][a-z0-9.-]*):(\d+)/g, (m, pre: string, host: string, port: string) => {
      const target = host === '127.0.0.1' || host === 'localhost' ? self : host in services ? host : undefined;
      if (target === undefined) return m;
      const local = network.get(`${target}:${port}`);
      if (!local) throw new Error(`${m}: port ${port} is not a port of service ${target}`);
      return `${pre}${local}`;
    });
  }

  function localEnv(name: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(containerEnv(name))) env[k] = localize(v, name);
    for (const [key, port] of Object.entries(LISTEN[name] ?? {})) env[key] = String(localPorts.get(`${name}:${port}`));
    // The image's data directory is a volume mount point: a temp folder here.
    if (env.WATTPROOF_DATA_DIR) env.WATTPROOF_DATA_DIR = dataDir;
    return env;
  }

  /** Runs a service's compose health check (CMD or CMD-SHELL) the way Docker does inside its container. */
  function healthcheck(name: string, env = localEnv(name)) {
    const test = service(name).healthcheck!.test!;
    const [kind, ...rest] = test;
    if (kind === 'CMD-SHELL') return run('sh', ['-c', interpolate(rest.join(' '))], { PATH: process.env.PATH, ...env });
    const [file, ...args] = rest.map((a) => localize(a, name));
    return run(file === 'node' ? process.execPath : file!, args, { PATH: process.env.PATH, ...env });
  }

  function command(name: string): string[] {
    return service(name).command!.map((a) => localize(a, name));
  }

  /**
   * What `docker compose up` does with depends_on: waves of services, each wave started at once
   * when every service it depends on is healthy (or, for the one-shot, completed).
   */
  function startWaves(): string[][] {
    const waves: string[][] = [];
    const done = new Set<string>();
    const left = new Set(Object.keys(services));
    while (left.size > 0) {
      const wave = [...left].filter((n) => Object.keys(service(n).depends_on ?? {}).every((d) => done.has(d))).sort();
      if (wave.length === 0) throw new Error(`dependency cycle among ${[...left].join(', ')}`);
      for (const n of wave) {
        left.delete(n);
        done.add(n);
      }
      waves.push(wave);
    }
    return waves;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'wattproof-compose-data-'));
    [influx, pgServer] = await Promise.all([startInfluxDb(), startPostgres()]);
    network.set('influxdb:8086', new URL(influx.url).host);
    network.set('postgres:5432', `127.0.0.1:${pgServer.port}`);
    for (const [name, keys] of Object.entries(LISTEN)) {
      for (const port of Object.values(keys)) {
        const local = await freePort();
        localPorts.set(`${name}:${port}`, local);
        network.set(`${name}:${port}`, `127.0.0.1:${local}`);
      }
    }

    // What the postgres image does on its first start: POSTGRES_USER (a superuser) owning
    // POSTGRES_DB, then the scripts of /docker-entrypoint-initdb.d.
    const pgEnv = containerEnv('postgres');
    const admin = new pg.Client({ connectionString: pgServer.connectionString() });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE "${pgEnv.POSTGRES_USER}" LOGIN SUPERUSER PASSWORD '${pgEnv.POSTGRES_PASSWORD}'`);
      await admin.query(`CREATE DATABASE "${pgEnv.POSTGRES_DB}" OWNER "${pgEnv.POSTGRES_USER}"`);
    } finally {
      await admin.end();
    }
    const initdb = join(REPO_ROOT, 'deploy/postgres/initdb');
    expect((service('postgres').volumes ?? []).includes('./deploy/postgres/initdb:/docker-entrypoint-initdb.d:ro')).toBe(true);
    for (const script of readdirSync(initdb).sort()) {
      accessSync(join(initdb, script), constants.X_OK);
      const r = await run(join(initdb, script), [], { PATH: process.env.PATH, ...pgEnv, PGHOST: '127.0.0.1', PGPORT: String(pgServer.port) });
      expect(r.code, `${script}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  }, STARTUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const s of running.reverse()) await s.stop();
    await influx?.stop();
    await pgServer?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("gives each Wattproof service a configuration the CLI's schemas accept", () => {
    for (const name of wattproofServices) {
      const env = containerEnv(name);
      for (const { title, schema } of CONFIG_SECTIONS) {
        expect(() => loadConfig(schema, env), `${name}: ${title}`).not.toThrow();
      }
    }
    const section = (title: string) => CONFIG_SECTIONS.find((s) => s.title.startsWith(title))!.schema;
    const gateway = loadConfig(section('Gateway'), containerEnv('gateway')) as Record<string, unknown>;
    expect([gateway.GATEWAY_MQTT_HOST, gateway.GATEWAY_MQTT_PORT, gateway.GATEWAY_HTTP_PORT, gateway.GATEWAY_ALLOW_ANONYMOUS]).toEqual(['0.0.0.0', 1883, 9101, false]);
    const ingest = loadConfig(section('Ingest'), containerEnv('ingest')) as Record<string, unknown>;
    expect([ingest.INGEST_MQTT_URL, ingest.INGEST_MQTT_USERNAME]).toEqual(['mqtt://gateway:1883', service('provision').command![2]]);
    for (const name of ['ingest', 'api']) {
      const store = loadConfig(section('Reading store'), containerEnv(name)) as Record<string, unknown>;
      expect([store.READINGS_STORE, store.INFLUX_URL, store.INFLUX_API_VERSION, store.INFLUX_RETENTION_POLICY], name).toEqual(['influxdb', 'http://influxdb:8086', 'auto', undefined]);
    }
    const runtime = loadConfig(section('Runtime'), containerEnv('api')) as Record<string, unknown>;
    expect([runtime.API_HOST, runtime.API_PORT]).toEqual(['0.0.0.0', 8080]);
    for (const name of wattproofServices) {
      const registry = loadConfig(section('Registry'), containerEnv(name)) as Record<string, unknown>;
      expect(new URL(String(registry.REGISTRY_POSTGRES_URL)).host, name).toBe('postgres:5432');
    }
  });

  it('starts in depends_on order, each service healthy by its own compose check, and carries the simulator readings to the API', async () => {
    const waves = startWaves();
    expect(waves).toEqual([['influxdb', 'postgres'], ['api', 'gateway', 'grafana', 'provision'], ['ingest'], ['simulator']]);

    // The databases: the test servers stand in; the PostgreSQL check runs as compose writes it.
    const pgHealth = await healthcheck('postgres', { ...containerEnv('postgres'), PGPORT: String(pgServer.port) });
    expect(pgHealth.code, pgHealth.stdout + pgHealth.stderr).toBe(0);

    let simulatorStart = 0;
    const up = async (name: string): Promise<void> => {
      if (ONE_SHOT.includes(name)) {
        const r = await runCli(command(name), localEnv(name), STARTUP_TIMEOUT_MS);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^(Created|Rotated) service wattproof-ingest with the secret from \$INGEST_MQTT_PASSWORD$/m);
        return;
      }
      if (name === 'simulator') simulatorStart = Date.now();
      const svc = startService(command(name), localEnv(name));
      running.push(svc);
      // What `condition: service_healthy` waits for.
      await poll(() => `${name} healthy:\n${svc.output()}`, STARTUP_TIMEOUT_MS, async () => {
        if (svc.child.exitCode !== null) throw new Error(`${name} exited (${svc.child.exitCode}):\n${svc.output()}`);
        return (await healthcheck(name)).code === 0 ? true : undefined;
      });
    };
    for (const wave of waves) await Promise.all(wave.filter((n) => wattproofServices.includes(n)).map(up));

    // Every API route but the open ones needs a key: one made in the stack's PostgreSQL registry
    // with the provision service's image and environment, as README's `docker compose run` does.
    const made = await runCli(['apikey', 'add', '--role', 'admin', '--label', 'compose-test'], localEnv('provision'), STARTUP_TIMEOUT_MS);
    expect(made.code, made.stdout + made.stderr).toBe(0);
    apiKey = /^\s+key:\s+(wp_\S+)$/m.exec(made.stdout)?.[1] ?? '';
    expect(apiKey, made.stdout).toMatch(/^wp_/);
    const keyed = keyedFetch(apiKey);

    // Every meter of the simulator (5 buildings x 3) reaches the API, with the whole backfill.
    const api = `http://127.0.0.1:${localPorts.get('api:8080')}`;
    expect((await fetch(`${api}/api/v1/latest?site=yuzhong`)).status, 'no key, no readings').toBe(401);
    await poll('15 meters in /api/v1/latest', 90_000, async () => {
      const body = (await (await keyed(`${api}/api/v1/latest?site=yuzhong`)).json()) as { readings: Array<{ building: string; meter: string }> };
      return new Set(body.readings.map((r) => `${r.building}/${r.meter}`)).size === 15 ? true : undefined;
    });
    const minute = 60_000;
    const end = Math.floor(simulatorStart / minute) * minute;
    const from = end - 48 * 3_600_000;
    for (const b of ['b01', 'b02', 'b03', 'b04', 'b05']) {
      const n = await poll(`the 48 h backfill of ${b}/elec-main`, 90_000, async () => {
        const body = (await (await keyed(`${api}/api/v1/meters/yuzhong/${b}/elec-main/readings?from=${from}&to=${end}`)).json()) as { readings: unknown[] };
        return body.readings.length >= 48 * 60 - 1 ? body.readings.length : undefined;
      });
      // 2,880 one-minute intervals; one fewer when the simulator's clock passed a minute boundary first.
      expect(n).toBeLessThanOrEqual(48 * 60);
    }

    // In the InfluxDB database that wattproof.env names, written by the ingest.
    const db = containerEnv('ingest').INFLUX_DATABASE!;
    const q = await (await fetch(`${influx.url}/query?db=${db}&q=${encodeURIComponent(`SELECT count("value") FROM "reading" WHERE "site" = 'yuzhong' AND "meter" = 'elec-main'`)}`)).json();
    expect((q as { results: Array<{ series?: Array<{ values: number[][] }> }> }).results[0]!.series![0]!.values[0]![1]).toBeGreaterThanOrEqual(5 * (48 * 60 - 1));

    // The simulator's own check passed above: the ingest reports its readings stored, and fresh.
    const sim = await healthcheck('simulator');
    expect(sim.code, sim.stderr).toBe(0);
    expect(sim.stdout).toContain(`http://127.0.0.1:${localPorts.get('ingest:9102')}/health`);
    const health = (await (await fetch(`http://127.0.0.1:${localPorts.get('ingest:9102')}/health`)).json()) as { components: { ingest: { newestStoredReadingTsMs: number; lastStoredAtMs: number } } };
    const { newestStoredReadingTsMs, lastStoredAtMs } = health.components.ingest;
    expect(newestStoredReadingTsMs).toBeGreaterThanOrEqual(end - minute);
    expect(newestStoredReadingTsMs).toBeLessThanOrEqual(Date.now());
    expect(lastStoredAtMs).toBeGreaterThanOrEqual(simulatorStart);
    expect(lastStoredAtMs).toBeLessThanOrEqual(Date.now());

    // The image's HEALTHCHECK (no URL: the API's /health on API_PORT) against the API.
    const [file, ...args] = execForm(runtimeStage.instructions.find((i) => i.op === 'HEALTHCHECK')!.args);
    expect(file).toBe('node');
    const image = await run(process.execPath, args, { PATH: process.env.PATH, ...localEnv('api') });
    expect(image.code, image.stderr).toBe(0);
    expect(image.stdout).toContain(`http://127.0.0.1:${localPorts.get('api:8080')}/health`);

    // The services kept nothing in the data directory: their state is in the databases.
    expect(readdirSync(dataDir)).toEqual([]);
  }, 8 * STARTUP_TIMEOUT_MS);

  it('the health checks fail when the service is down, the readings are stale or the route needs a key', async () => {
    const closed = await freePort();
    const down = await run(process.execPath, ['deploy/healthcheck.mjs', `http://127.0.0.1:${closed}/health`], { PATH: process.env.PATH });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^unhealthy: GET http:\/\/127\.0\.0\.1:\d+\/health: ECONNREFUSED/);
    const api = `http://127.0.0.1:${localPorts.get('api:8080')}`;
    // The probe sends no key: a guarded route is unhealthy, whatever it would hold.
    const guarded = await run(process.execPath, ['deploy/healthcheck.mjs', `${api}/api/v1/latest?site=yuzhong`, '--fresh-s', '600'], { PATH: process.env.PATH });
    expect(guarded.code).toBe(1);
    expect(guarded.stderr).toContain('HTTP 401');
    expect(guarded.stderr).toContain('AUTH_REQUIRED');
    // Stale against the ingest's health: the newest stored reading is older than 1 s. Readings are
    // on the minute, so it can be younger right after one is stored: then, once more a moment later.
    const ingestHealth = `http://127.0.0.1:${localPorts.get('ingest:9102')}/health`;
    const stale = await poll('a stale verdict with --fresh-s 1', 10_000, async () => {
      const r = await run(process.execPath, ['deploy/healthcheck.mjs', ingestHealth, '--fresh-s', '1'], { PATH: process.env.PATH });
      return r.code === 1 ? r : undefined;
    });
    expect(stale.stderr).toMatch(/^unhealthy: GET http:\/\/127\.0\.0\.1:\d+\/health: newest reading is \d+ s old \(more than 1 s\)/);
    const notFound = await run(process.execPath, ['deploy/healthcheck.mjs', `${api}/no-such-path`], { PATH: process.env.PATH });
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toContain('HTTP 404');
  });

  it('the provision one-shot is repeatable (it runs on every `up`) and the ingest keeps its login', { timeout: STARTUP_TIMEOUT_MS }, async () => {
    const r = await runCli(command('provision'), localEnv('provision'), STARTUP_TIMEOUT_MS);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Rotated service wattproof-ingest/m);
    expect((await healthcheck('ingest')).code).toBe(0);
  });

  it("Grafana's PostgreSQL login reads the registry and cannot change it", async () => {
    const grafana = containerEnv('grafana');
    const client = new pg.Client({
      host: '127.0.0.1',
      port: pgServer.port,
      database: grafana.POSTGRES_DB,
      user: grafana.POSTGRES_USER,
      password: grafana.POSTGRES_PASSWORD,
    });
    await client.connect();
    try {
      const meters = await client.query<{ n: string }>('SELECT count(*) AS n FROM meters');
      expect(Number(meters.rows[0]!.n)).toBe(15);
      await expect(client.query("DELETE FROM meters WHERE site = 'yuzhong'")).rejects.toMatchObject({ code: '42501' });
      await expect(client.query('CREATE TABLE grafana_was_here (x int)')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
  });
});

describe('deploy/healthcheck.mjs --fresh-s', () => {
  // A stand-in for the probed service: answers every GET with the body the test sets.
  let server: Server;
  let url: string;
  let body: unknown;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/health`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const probe = (b: unknown, freshS = '600') => {
    body = b;
    return run(process.execPath, ['deploy/healthcheck.mjs', url, '--fresh-s', freshS], { PATH: process.env.PATH });
  };
  const ingestHealth = (newestStoredReadingTsMs: number | null) => ({ status: 'ok', components: { ingest: { ok: true, pending: 0, newestStoredReadingTsMs, lastStoredAtMs: newestStoredReadingTsMs } } });

  it("reads the ingest's health: the newest stored reading", async () => {
    const fresh = await probe(ingestHealth(Date.now() - 30_000));
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).toBe(`healthy: ${url}\n`);
    const stale = await probe(ingestHealth(Date.now() - 700_000));
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/newest reading is 70\d s old \(more than 600 s\)/);
    const nothing = await probe(ingestHealth(null));
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('no readings yet');
  });

  it('reads a readings list: the newest `ts` of any reading', async () => {
    const now = Date.now();
    const fresh = await probe({ readings: [{ ts: now - 900_000 }, { ts: now - 20_000 }, { ts: 'x' }] });
    expect(fresh.code, fresh.stderr).toBe(0);
    const stale = await probe({ readings: [{ ts: now - 900_000 }, { ts: now - 800_000 }] });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/newest reading is 80\d s old/);
    const none = await probe({ readings: [] });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no readings yet');
  });

  it('is unhealthy on any other answer', async () => {
    const other = await probe({ status: 'ok' });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('neither a readings list nor an ingest health answer');
    const text = await probe('ok');
    expect(text.code).toBe(1);
    expect(text.stderr).toContain('not JSON');
    // Without --fresh-s the same answers are healthy: any 2xx is.
    body = { status: 'ok' };
    expect((await run(process.execPath, ['deploy/healthcheck.mjs', url], { PATH: process.env.PATH })).code).toBe(0);
  });
});
