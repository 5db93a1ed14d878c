/**
 * Node-RED as the peer ingest of the ingest benchmark (bench/ingest.ts, issue 8 req. 1(c)):
 * `node-red` 4.1 with `node-red-contrib-influxdb`, the flow people build for "MQTT in → InfluxDB
 * out", reading the same broker and topics as the Wattproof ingest and writing the same
 * measurement, tags and fields, so that the benchmark's count query works on either.
 *
 * Node-RED is pinned in bench/peers/node-red (package.json + package-lock.json), outside the npm
 * workspaces: the root `npm ci` (CI) never installs it; the benchmark runs
 * `npm ci --prefix bench/peers/node-red` when it is missing (`ensureNodeRed`).
 *
 * The flow (`nodeRedFlow`):
 *
 *   mqtt in (QoS 1, JSON) → function "contract → points" → influxdb out             variant per-message
 *   mqtt in (QoS 1, JSON) → function "contract → points" → join (500 msgs or 1 s)
 *                                                        → function "flatten" → influxdb batch   variant batched
 *
 * The MQTT session is persistent (clean session off, a fixed client id), as the Wattproof
 * ingest's: the gateway then treats both subscribers alike (it acknowledges a device's QoS 1
 * PUBLISH only once the message is queued for every persistent session, gateway/src/hand-off.ts),
 * so the load and the gateway's work are the same for both and only the ingest side differs; a
 * clean session would also lose whatever arrived during a reconnect, which no ingest should.
 * Node-RED's MQTT node (MQTT.js) still acknowledges each message on receipt, before the write:
 * what it then fails to write is lost without the broker knowing.
 *
 * What the function node does is the least an ingest must do: take site, building and meter from
 * the topic, and per reading the tags quantity, kind and unit and the fields value and interval_s.
 * It does not validate the message against the contract, convert units, or deduplicate — the
 * Wattproof ingest does all three — so the CPU comparison is, if anything, kind to Node-RED.
 * Through InfluxDB 1.x's API node-red-contrib-influxdb writes with the `influx` library, which has
 * no integer fields without a schema: `interval_s` is stored as a float (the adapter writes an
 * integer); the count query (`count(value)`) and the marker query read `value` and the time only.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TOPIC_ROOT } from '@wattproof/core';

/** One write per MQTT message, or a join of many messages into one batch write. */
export type NodeRedVariant = 'per-message' | 'batched';

/** Messages the join node collects into one batch write (the issue's measurement: 500). */
export const DEFAULT_NODE_RED_BATCH_MESSAGES = 500;
/** The join node sends what it has after this long, s. */
export const DEFAULT_NODE_RED_BATCH_TIMEOUT_S = 1;
/** What Node-RED prints once its MQTT node is connected (and about to subscribe). */
export const NODE_RED_READY_TEXT = 'Connected to broker:';
/** The influx node's measurement (the adapter's, ingest/src/stores/influxdb.ts). */
const MEASUREMENT = 'reading';

export interface NodeRedFlowOptions {
  readonly variant: NodeRedVariant;
  readonly mqtt: {
    readonly host: string;
    readonly port: number;
    readonly clientId: string;
    readonly username: string;
    readonly password: string;
    /** false: a persistent session (the default, see the module comment). */
    readonly cleanSession?: boolean;
    /** The subscription, e.g. `wattproof/v1/+/+/+/readings`. */
    readonly topic: string;
  };
  readonly influx: { readonly host: string; readonly port: number; readonly database: string };
  /** Batched variant: messages per join (default 500) and its timeout, s (default 1). */
  readonly batchMessages?: number;
  readonly batchTimeoutS?: number;
}

export interface NodeRedFlow {
  /** flows.json: the nodes. */
  readonly flows: ReadonlyArray<Record<string, unknown>>;
  /** flows_cred.json, unencrypted (the settings set `credentialSecret: false`): credentials by node id. */
  readonly credentials: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * The function node's body: a Wattproof contract v1 readings message (msg.payload, parsed by the
 * MQTT node) on `wattproof/v1/<site>/<building>/<meter>/readings` (msg.topic) into points —
 * node-red-contrib-influxdb's batch form `{ measurement, tags, fields, timestamp }` for the
 * batched variant, its `[[fields, tags], ...]` form (timestamp in `fields.time`) for `influxdb out`.
 * Runs in Node-RED's function sandbox (`msg`, `node` in scope; `return null` drops the message).
 */
export function convertFunctionBody(variant: NodeRedVariant): string {
  const segments = TOPIC_ROOT.split('/').length;
  const point =
    variant === 'batched'
      ? `points.push({ measurement: ${JSON.stringify(MEASUREMENT)}, tags: tags, fields: fields, timestamp: ts });`
      : 'fields.time = ts;\n    points.push([fields, tags]);';
  return `// Wattproof contract v1 readings message -> InfluxDB points, the Wattproof adapter's layout:
// measurement reading; tags site, building, meter, quantity, kind, unit; fields value, interval_s; ms timestamps.
const t = msg.topic.split('/');
const p = msg.payload;
if (t.length !== ${segments + 4} || msg.topic.indexOf(${JSON.stringify(`${TOPIC_ROOT}/`)}) !== 0 || t[${segments + 3}] !== 'readings' || !p || !Array.isArray(p.readings)) {
    node.warn('not a readings message on ' + msg.topic);
    return null;
}
const points = [];
for (const r of p.readings) {
    const ts = typeof r.ts === 'number' ? r.ts : Date.parse(r.ts);
    const tags = { site: t[${segments}], building: t[${segments + 1}], meter: t[${segments + 2}], quantity: r.quantity, kind: r.kind, unit: r.unit };
    const fields = { value: r.value };
    if (r.kind === 'interval' && r.intervalS !== undefined) fields.interval_s = r.intervalS;
    ${point}
}
msg.payload = points;
return msg;
`;
}

/** The body of the function node after the join: the joined array of per-message point arrays, flattened. */
export const FLATTEN_FUNCTION_BODY = 'msg.payload = msg.payload.flat();\nreturn msg;\n';

/** Node ids of the flow (stable, for the credentials file and tests). */
export const NODE_RED_IDS = {
  tab: 'wp-bench-tab',
  broker: 'wp-bench-broker',
  influx: 'wp-bench-influxdb',
  mqttIn: 'wp-bench-mqtt-in',
  convert: 'wp-bench-convert',
  join: 'wp-bench-join',
  flatten: 'wp-bench-flatten',
  out: 'wp-bench-influx-out',
} as const;

/**
 * The flow of `options.variant` as flows.json nodes and its credentials. The broker's login goes
 * in the credentials file (the MQTT config node's `user`/`password`); InfluxDB runs without auth.
 */
export function nodeRedFlow(options: NodeRedFlowOptions): NodeRedFlow {
  const id = NODE_RED_IDS;
  const { mqtt, influx, variant } = options;
  const batchMessages = options.batchMessages ?? DEFAULT_NODE_RED_BATCH_MESSAGES;
  const batchTimeoutS = options.batchTimeoutS ?? DEFAULT_NODE_RED_BATCH_TIMEOUT_S;
  const broker = {
    id: id.broker,
    type: 'mqtt-broker',
    name: 'wattproof gateway',
    broker: mqtt.host,
    port: String(mqtt.port),
    clientid: mqtt.clientId,
    autoConnect: true,
    usetls: false,
    protocolVersion: '4',
    keepalive: '60',
    cleansession: mqtt.cleanSession ?? false,
    autoUnsubscribe: true,
    birthTopic: '',
    closeTopic: '',
    willTopic: '',
  };
  const influxConfig = {
    id: id.influx,
    type: 'influxdb',
    hostname: influx.host,
    port: String(influx.port),
    protocol: 'http',
    database: influx.database,
    name: 'bench influxdb',
    usetls: false,
    tls: '',
    influxdbVersion: '1.x',
  };
  const mqttIn = {
    id: id.mqttIn,
    type: 'mqtt in',
    z: id.tab,
    name: 'readings',
    topic: mqtt.topic,
    qos: '1',
    datatype: 'json',
    broker: id.broker,
    nl: false,
    rap: true,
    rh: 0,
    inputs: 0,
    x: 120,
    y: 100,
    wires: [[id.convert]],
  };
  const convert = {
    id: id.convert,
    type: 'function',
    z: id.tab,
    name: 'contract → points',
    func: convertFunctionBody(variant),
    outputs: 1,
    timeout: 0,
    noerr: 0,
    initialize: '',
    finalize: '',
    libs: [],
    x: 330,
    y: 100,
    wires: [[variant === 'batched' ? id.join : id.out]],
  };
  const tab = { id: id.tab, type: 'tab', label: `wattproof bench (${variant})`, disabled: false, info: '' };
  const nodes: Array<Record<string, unknown>> =
    variant === 'batched'
      ? [
          tab,
          mqttIn,
          convert,
          {
            id: id.join,
            type: 'join',
            z: id.tab,
            name: `${batchMessages} messages`,
            mode: 'custom',
            build: 'array',
            property: 'payload',
            propertyType: 'msg',
            key: 'topic',
            joiner: '\\n',
            joinerType: 'str',
            useparts: false,
            accumulate: false,
            timeout: String(batchTimeoutS),
            count: String(batchMessages),
            reduceRight: false,
            x: 530,
            y: 100,
            wires: [[id.flatten]],
          },
          { id: id.flatten, type: 'function', z: id.tab, name: 'flatten', func: FLATTEN_FUNCTION_BODY, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 690, y: 100, wires: [[id.out]] },
          { id: id.out, type: 'influxdb batch', z: id.tab, influxdb: id.influx, precision: 'ms', retentionPolicy: '', name: 'write batch', database: '', precisionV18FluxV20: 'ms', retentionPolicyV18Flux: '', org: '', bucket: '', x: 860, y: 100, wires: [] },
          broker,
          influxConfig,
        ]
      : [
          tab,
          mqttIn,
          convert,
          { id: id.out, type: 'influxdb out', z: id.tab, influxdb: id.influx, name: 'write', measurement: MEASUREMENT, precision: 'ms', retentionPolicy: '', database: '', precisionV18FluxV20: 'ms', retentionPolicyV18Flux: '', org: '', bucket: '', x: 560, y: 100, wires: [] },
          broker,
          influxConfig,
        ];
  return { flows: nodes, credentials: { [id.broker]: { user: mqtt.username, password: mqtt.password }, [id.influx]: { username: '', password: '' } } };
}

/**
 * settings.js for a headless Node-RED: no editor, admin API or HTTP nodes (`httpAdminRoot` and
 * `httpNodeRoot` false: it opens no port at all), credentials unencrypted in flows_cred.json,
 * nothing installed at run time, no telemetry, logs at `logLevel` on the console.
 */
export function nodeRedSettings(options: { flowFile?: string; logLevel?: 'error' | 'warn' | 'info' } = {}): string {
  const settings = {
    flowFile: options.flowFile ?? 'flows.json',
    flowFilePretty: true,
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    functionExternalModules: false,
    externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    editorTheme: { projects: { enabled: false } },
    logging: { console: { level: options.logLevel ?? 'info', metrics: false, audit: false } },
    mqttReconnectTime: 1000,
  };
  return `// Generated by bench/lib/node-red.ts for the ingest benchmark.\nmodule.exports = ${JSON.stringify(settings, null, 2)};\n`;
}

/** Where the pinned Node-RED lives (its own package.json and lockfile; not a workspace). */
export const NODE_RED_PREFIX = fileURLToPath(new URL('../peers/node-red/', import.meta.url));

/** The versions the benchmark runs, for the report. */
export interface NodeRedInstall {
  readonly prefix: string;
  readonly redJs: string;
  readonly nodeRed: string;
  readonly contribInfluxdb: string;
  /** True when this call ran `npm ci`. */
  readonly installed: boolean;
}

async function versionOf(prefix: string, pkg: string): Promise<string> {
  return (JSON.parse(await readFile(join(prefix, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Node-RED under `prefix`, installed from the lockfile with `npm ci` when its node_modules lacks it.
 * @throws Error when npm fails (no registry, no network): the message has npm's output.
 */
export async function ensureNodeRed(prefix = NODE_RED_PREFIX, log: (s: string) => void = () => undefined): Promise<NodeRedInstall> {
  const redJs = join(prefix, 'node_modules', 'node-red', 'red.js');
  let installed = false;
  if (!existsSync(redJs) || !existsSync(join(prefix, 'node_modules', 'node-red-contrib-influxdb', 'package.json'))) {
    log(`installing Node-RED: npm ci --prefix ${prefix} --no-audit --no-fund`);
    try {
      await promisify(execFile)('npm', ['ci', '--prefix', prefix, '--no-audit', '--no-fund'], { maxBuffer: 16 * 2 ** 20 });
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`npm ci --prefix ${prefix} failed: ${e.message}\n${e.stderr ?? ''}`);
    }
    installed = true;
  }
  return { prefix, redJs, nodeRed: await versionOf(prefix, 'node-red'), contribInfluxdb: await versionOf(prefix, 'node-red-contrib-influxdb'), installed };
}

/**
 * Writes settings.js, flows.json and flows_cred.json into `userDir` and returns the command line
 * (`node red.js --userDir <dir> --settings <dir>/settings.js`): Node-RED itself, one process, so
 * that its pid's CPU is Node-RED's.
 */
export async function prepareNodeRed(install: NodeRedInstall, userDir: string, flow: NodeRedFlow, logLevel: 'error' | 'warn' | 'info' = 'info'): Promise<{ args: string[]; cwd: string }> {
  await mkdir(userDir, { recursive: true });
  await writeFile(join(userDir, 'settings.js'), nodeRedSettings({ flowFile: 'flows.json', logLevel }));
  await writeFile(join(userDir, 'flows.json'), `${JSON.stringify(flow.flows, null, 2)}\n`);
  await writeFile(join(userDir, 'flows_cred.json'), `${JSON.stringify(flow.credentials, null, 2)}\n`, { mode: 0o600 });
  return { args: [install.redJs, '--userDir', userDir, '--settings', join(userDir, 'settings.js')], cwd: userDir };
}
