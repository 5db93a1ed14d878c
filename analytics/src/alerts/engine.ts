/**
 * The alert engine: evaluates every rule over the stores, keeps one alert per (rule, subject),
 * persists each transition (raised, severity changed, resolved) as an append-only `alert.event`
 * record carrying the alert as it became — so the current state is the newest event of each
 * alert, survives restarts and keeps an auditable history — and hands raises and resolves to the
 * webhook dispatcher without waiting for it.
 *
 * A standing condition stays one alert: each evaluation updates its `lastEvaluated` and evidence
 * in memory (no record), and only a change of severity is recorded. An active alert resolves when
 * its rule judged its subject and found the condition gone; a subject a rule could not judge this
 * time (no model, too little data, the rule failed) keeps its state.
 */
import { childLogger, silentLogger, type Logger, type NewRecord, type ReadingStore, type RegistryStore, type StoredRecord } from '@wattproof/core';
import type { AlertsConfig } from './config.js';
import { createEvaluationContext, iso, type EvaluationContext } from './context.js';
import { alertError } from './errors.js';
import { evaluateAboveBaseline } from './rules/above-baseline.js';
import { evaluateDeadLetterSurge } from './rules/dead-letter-surge.js';
import { evaluateEuiAboveQuota } from './rules/eui-above-quota.js';
import { evaluateLowCoverage } from './rules/low-coverage.js';
import { evaluateMeterSilent } from './rules/meter-silent.js';
import { createWebhookDispatcher } from './webhooks.js';
import {
  ALERT_RECORD_KINDS,
  ALERT_RULES,
  type Alert,
  type AlertDeliveryBody,
  type AlertEventBody,
  type AlertEventType,
  type AlertRule,
  type AlertSeverity,
  type AlertState,
  type RuleOutcome,
} from './types.js';

export interface AlertEngineDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  /** Epoch ms; Date.now by default. */
  readonly clock?: () => number;
  readonly logger?: Logger;
}

/** What one rule did in one evaluation. */
export interface RuleReport {
  /** Subjects the rule could judge. */
  readonly judged: number;
  /** Of those, with the condition present. */
  readonly firing: number;
  /** Subjects left out, by reason. */
  readonly skipped?: Readonly<Record<string, number>>;
  /** Set when the rule failed (its alerts kept their state). */
  readonly error?: { readonly code: 'ALERT_RULE_FAILED'; readonly message: string };
}

/** The result of one evaluation. */
export interface EvaluationResult {
  readonly evaluatedAt: string;
  readonly durationMs: number;
  readonly raised: Alert[];
  readonly resolved: Alert[];
  /** Standing alerts whose severity changed. */
  readonly updated: Alert[];
  /** Active alerts after the evaluation. */
  readonly active: number;
  readonly rules: Record<AlertRule, RuleReport>;
}

export interface AlertFilter {
  readonly site?: string;
  readonly building?: string;
  readonly meter?: string;
  readonly state?: AlertState;
  readonly rule?: AlertRule;
}

/** An alert's recorded history, newest first. */
export interface AlertHistory {
  readonly events: Array<{ readonly id: string; readonly type: AlertEventType; readonly at: string; readonly alert: Alert }>;
  readonly deliveries: Array<AlertDeliveryBody & { readonly id: string; readonly at: string }>;
}

const RULE_FUNCTIONS: Record<AlertRule, (ctx: EvaluationContext) => Promise<RuleOutcome>> = {
  meter_silent: evaluateMeterSilent,
  above_baseline: evaluateAboveBaseline,
  eui_above_quota: evaluateEuiAboveQuota,
  low_coverage: evaluateLowCoverage,
  dead_letter_surge: evaluateDeadLetterSurge,
};

const SEVERITY_ORDER: Record<AlertSeverity, number> = { critical: 0, warning: 1 };
const PAGE = 1000;

/** JSON as the registry keeps it: NaN and ±Infinity become null, undefined properties go. */
function jsonSafe<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * Creates the alert engine. It opens nothing until used: `start()` schedules evaluations every
 * ALERT_EVALUATE_INTERVAL_S (the first one interval after start, so a backfill at start-up does not
 * raise silent-meter alerts); `evaluate()` runs one now.
 */
export function createAlertEngine(deps: AlertEngineDeps, config: AlertsConfig) {
  const clock = deps.clock ?? Date.now;
  const logger = deps.logger ? childLogger(deps.logger, { component: 'alerts' }) : silentLogger;
  const state = new Map<string, Alert>();
  const webhooks = createWebhookDispatcher(
    { registry: deps.registry, clock, logger },
    {
      urls: config.ALERT_WEBHOOK_URLS,
      ...(config.ALERT_WEBHOOK_SECRET ? { secret: config.ALERT_WEBHOOK_SECRET } : {}),
      timeoutMs: config.ALERT_WEBHOOK_TIMEOUT_MS,
      maxAttempts: config.ALERT_WEBHOOK_MAX_ATTEMPTS,
      backoffMs: config.ALERT_WEBHOOK_BACKOFF_MS,
    },
  );
  let loading: Promise<void> | undefined;
  let running: Promise<EvaluationResult> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  /** The current state: the newest event of each alert (records come newest first). */
  async function load(): Promise<void> {
    let before: string | undefined;
    const found = new Map<string, Alert>();
    for (;;) {
      const page = await deps.registry.listRecords({ kind: ALERT_RECORD_KINDS.event, limit: PAGE, ...(before ? { before } : {}) });
      for (const r of page) if (!found.has(r.key)) found.set(r.key, (r.body as AlertEventBody).alert);
      if (page.length < PAGE) break;
      before = page[page.length - 1]!.id;
    }
    for (const [id, alert] of found) state.set(id, alert);
  }

  function ensureLoaded(): Promise<void> {
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw alertError('ALERT_STORE_UNAVAILABLE', 'could not read the alert events from the registry', { cause: err });
    });
    return loading;
  }

  async function run(): Promise<EvaluationResult> {
    await ensureLoaded();
    const started = performance.now();
    const now = clock();
    const nowIso = iso(now);
    let ctx: EvaluationContext;
    try {
      ctx = await createEvaluationContext({ readings: deps.readings, registry: deps.registry, logger }, config, now);
    } catch (err) {
      throw alertError('ALERT_STORE_UNAVAILABLE', 'could not list the portfolio and the latest readings', { cause: err });
    }
    const rules = {} as Record<AlertRule, RuleReport>;
    const changes = new Map<string, Alert>();
    const events: Array<{ type: AlertEventType; alert: Alert }> = [];
    for (const rule of ALERT_RULES) {
      let outcome: RuleOutcome;
      try {
        outcome = await RULE_FUNCTIONS[rule](ctx);
      } catch (err) {
        logger.error({ err, rule }, 'alert rule failed');
        rules[rule] = { judged: 0, firing: 0, error: { code: 'ALERT_RULE_FAILED', message: (err as Error).message ?? String(err) } };
        continue;
      }
      rules[rule] = { judged: outcome.judged.size, firing: outcome.findings.length, ...(outcome.skipped && Object.keys(outcome.skipped).length ? { skipped: outcome.skipped } : {}) };
      const firing = new Set<string>();
      for (const f of outcome.findings) {
        firing.add(f.id);
        const prev = state.get(f.id);
        const subject = { site: f.site, ...(f.building !== undefined ? { building: f.building } : {}), ...(f.meter !== undefined ? { meter: f.meter } : {}) };
        const text = { title: f.title, message: f.message, titleZh: f.titleZh, messageZh: f.messageZh };
        if (prev?.state === 'active') {
          const next: Alert = jsonSafe({ ...prev, ...text, severity: f.severity, evidence: f.evidence, lastEvaluated: nowIso });
          changes.set(f.id, next);
          if (prev.severity !== f.severity) events.push({ type: 'updated', alert: next });
        } else {
          const next: Alert = jsonSafe({ id: f.id, rule: f.rule, severity: f.severity, state: 'active' as const, ...subject, ...text, since: nowIso, lastEvaluated: nowIso, evidence: f.evidence });
          changes.set(f.id, next);
          events.push({ type: 'raised', alert: next });
        }
      }
      for (const prev of state.values()) {
        if (prev.rule !== rule || prev.state !== 'active' || firing.has(prev.id) || !outcome.judged.has(prev.id)) continue;
        const next: Alert = { ...prev, state: 'resolved', resolvedAt: nowIso, lastEvaluated: nowIso };
        changes.set(prev.id, next);
        events.push({ type: 'resolved', alert: next });
      }
    }
    let stored: StoredRecord[] = [];
    if (events.length > 0) {
      const records: NewRecord[] = events.map((e) => ({ kind: ALERT_RECORD_KINDS.event, key: e.alert.id, recordedAtMs: now, body: { type: e.type, atMs: now, alert: e.alert } satisfies AlertEventBody }));
      try {
        stored = await deps.registry.appendRecords(records);
      } catch (err) {
        // Nothing is applied: the next evaluation finds the same transitions again.
        throw alertError('ALERT_STORE_UNAVAILABLE', 'could not store the alert events; no alert changed state', { cause: err });
      }
    }
    for (const [id, alert] of changes) state.set(id, alert);
    for (const r of stored) {
      const body = r.body as AlertEventBody;
      if (body.type !== 'updated') webhooks.send(r as StoredRecord & { body: AlertEventBody });
      logger.info({ alertId: body.alert.id, event: body.type, severity: body.alert.severity }, `alert ${body.type}`);
    }
    const pick = (type: AlertEventType) => events.filter((e) => e.type === type).map((e) => e.alert);
    return {
      evaluatedAt: nowIso,
      durationMs: Math.round(performance.now() - started),
      raised: pick('raised'),
      resolved: pick('resolved'),
      updated: pick('updated'),
      active: [...state.values()].filter((a) => a.state === 'active').length,
      rules,
    };
  }

  const engine = {
    /**
     * Evaluates every rule now; a call while an evaluation runs gets that evaluation's result.
     * @throws WattproofError ALERT_STORE_UNAVAILABLE when the registry or the reading store did not
     *   answer (no alert changed), ALERT_ENGINE_CLOSED after close().
     */
    evaluate(): Promise<EvaluationResult> {
      if (closed) return Promise.reject(alertError('ALERT_ENGINE_CLOSED', 'the alert engine is closed'));
      running ??= run().finally(() => {
        running = undefined;
      });
      return running;
    },

    /** Alerts matching the filter: active first, then critical first, newest first. */
    async list(filter: AlertFilter = {}): Promise<Alert[]> {
      await ensureLoaded();
      return [...state.values()]
        .filter((a) => (filter.site === undefined || a.site === filter.site) && (filter.building === undefined || a.building === filter.building) && (filter.meter === undefined || a.meter === filter.meter) && (filter.state === undefined || a.state === filter.state) && (filter.rule === undefined || a.rule === filter.rule))
        .sort((a, b) => (a.state === b.state ? 0 : a.state === 'active' ? -1 : 1) || SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || (a.since < b.since ? 1 : a.since > b.since ? -1 : 0) || a.id.localeCompare(b.id));
    },

    async get(id: string): Promise<Alert | undefined> {
      await ensureLoaded();
      return state.get(id);
    },

    /** The alert's recorded events and webhook attempts, newest first (at most `limit` of each). */
    async history(id: string, limit = 100): Promise<AlertHistory> {
      const [events, deliveries] = await Promise.all([
        deps.registry.listRecords({ kind: ALERT_RECORD_KINDS.event, key: id, limit }),
        deps.registry.listRecords({ kind: ALERT_RECORD_KINDS.delivery, key: id, limit }),
      ]);
      return {
        events: events.map((r) => {
          const b = r.body as AlertEventBody;
          return { id: r.id, type: b.type, at: iso(b.atMs), alert: b.alert };
        }),
        deliveries: deliveries.map((r) => ({ ...(r.body as AlertDeliveryBody), id: r.id, at: iso((r.body as AlertDeliveryBody).atMs) })),
      };
    },

    /** Schedules an evaluation every ALERT_EVALUATE_INTERVAL_S (none when 0) and reads the current state. */
    async start(): Promise<void> {
      await ensureLoaded();
      if (config.ALERT_EVALUATE_INTERVAL_S <= 0 || timer || closed) return;
      timer = setInterval(() => {
        if (running) return;
        engine.evaluate()
          .then((r) => (r.raised.length || r.resolved.length ? logger.info({ raised: r.raised.length, resolved: r.resolved.length, active: r.active }, 'alerts evaluated') : undefined))
          .catch((err: unknown) => logger.error({ err }, 'alert evaluation failed'));
      }, config.ALERT_EVALUATE_INTERVAL_S * 1000);
      timer.unref();
    },

    /** Resolves when every webhook delivery started so far has finished. */
    deliveriesIdle: () => webhooks.idle(),

    /** Stops the schedule, waits for a running evaluation, abandons waiting webhook retries. */
    async close(): Promise<void> {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
      await webhooks.close();
    },
  };
  return engine;
}

export type AlertEngine = ReturnType<typeof createAlertEngine>;
