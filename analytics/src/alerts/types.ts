/** Shapes of the operator alerts: what the API returns, what the registry keeps, what rules report. */

/** The alert rules, in evaluation order. */
export const ALERT_RULES = ['meter_silent', 'above_baseline', 'eui_above_quota', 'low_coverage', 'dead_letter_surge'] as const;
export type AlertRule = (typeof ALERT_RULES)[number];

export const ALERT_SEVERITIES = ['warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const ALERT_STATES = ['active', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** What an alert is about: a site, a building or a meter. */
export interface AlertSubject {
  readonly site: string;
  readonly building?: string;
  readonly meter?: string;
}

/**
 * One alert as the API serves it. The id is stable per (rule, subject): a condition that clears
 * and comes back is the same alert raised again (its history shows both).
 */
export interface Alert extends AlertSubject {
  /** `<rule>:<site>[:<building>[:<meter>]]`. */
  readonly id: string;
  readonly rule: AlertRule;
  readonly severity: AlertSeverity;
  readonly state: AlertState;
  readonly title: string;
  readonly message: string;
  readonly titleZh: string;
  readonly messageZh: string;
  /** When it was raised (this time round), ISO 8601 UTC. */
  readonly since: string;
  /** When a rule last judged its subject, ISO 8601 UTC. */
  readonly lastEvaluated: string;
  readonly resolvedAt?: string;
  /** The numbers and time ranges that show the condition (per rule; documented in the rule). */
  readonly evidence: Record<string, unknown>;
}

/** A condition a rule found: an alert to raise or keep active. */
export interface AlertFinding extends AlertSubject {
  readonly id: string;
  readonly rule: AlertRule;
  readonly severity: AlertSeverity;
  readonly title: string;
  readonly message: string;
  readonly titleZh: string;
  readonly messageZh: string;
  readonly evidence: Record<string, unknown>;
}

/** What one rule decided in one evaluation. */
export interface RuleOutcome {
  /** Alert ids whose subject the rule could judge (found or not). Active alerts judged and not found resolve. */
  readonly judged: ReadonlySet<string>;
  readonly findings: readonly AlertFinding[];
  /** Subjects left out and why (no model, too little data ...), counted by reason. */
  readonly skipped?: Readonly<Record<string, number>>;
}

/** Kinds of the append-only registry records of the alerts. */
export const ALERT_RECORD_KINDS = { event: 'alert.event', delivery: 'alert.delivery' } as const;

export type AlertEventType = 'raised' | 'updated' | 'resolved';

/** Body of an `alert.event` record (key = alert id): the transition and the alert as it was after it. */
export interface AlertEventBody {
  readonly type: AlertEventType;
  readonly atMs: number;
  readonly alert: Alert;
}

/** Body of an `alert.delivery` record (key = alert id): one webhook attempt. */
export interface AlertDeliveryBody {
  /** Same for every attempt of one delivery (also sent as `x-wattproof-delivery`). */
  readonly deliveryId: string;
  /** The `alert.event` record delivered. */
  readonly eventId: string;
  readonly eventType: AlertEventType;
  /** Which configured URL (1-based) and its origin only: URLs may carry tokens. */
  readonly target: number;
  readonly origin: string;
  readonly attempt: number;
  readonly atMs: number;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly status: number | null;
  /** ALERT_WEBHOOK_FAILED or ALERT_WEBHOOK_REJECTED when not ok. */
  readonly code?: string;
  readonly error?: string;
  /** Epoch ms of the next attempt; absent when none follows. */
  readonly retryAtMs?: number;
}
