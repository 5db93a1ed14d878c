/**
 * The report pack format `wattproof.pack/1` (docs/packs.md): one JSON document with every figure,
 * its method and reference-data versions, the data-quality statement, the adjustments, the
 * Merkle roots of the readings used and the ids of the records used, signed with Ed25519.
 */
import type { AnalysisDefinition, AnalysisResult, ClaimFile, CovenantEvaluation, FinanceLineage, Finding, KpiInputsSnapshot, KpiObservation, NonRoutineAdjustment, ReferenceVersion, UsedRecord } from '@wattproof/analytics';
import type { BuildingProfile, CovenantSpec, Loan, Policy, Quantity, ReadingKind, Unit } from '@wattproof/core';
import type { DayRoot } from './merkle.js';

export const PACK_FORMAT = 'wattproof.pack/1';
/** Name of the canonical JSON the signature covers. */
export const CANONICAL_JSON = 'wattproof.canonical-json/1';

export type PackSubject =
  | { readonly kind: 'building'; readonly site: string; readonly building: string }
  | { readonly kind: 'loan'; readonly id: string }
  | { readonly kind: 'policy'; readonly id: string };

/** Local dates `[from, to)` in `timeZone`. */
export interface PackPeriod {
  readonly from: string;
  readonly to: string;
  readonly timeZone: string;
}

export interface PackBuilding {
  readonly site: string;
  readonly building: string;
  readonly name?: string;
  readonly type?: string;
  readonly floorAreaM2?: number;
  readonly timeZone: string;
}

/** A stored record the pack used. */
export interface PackRecordRef {
  readonly id: string;
  readonly kind: string;
  readonly key: string;
  readonly recordedAtMs: number;
}

/** One series of readings used, with its roots and where the export keeps it. */
export interface PackSeries {
  /** `site/building/meter/quantity/kind@fromDate`, unique in the pack. */
  readonly id: string;
  readonly site: string;
  readonly building: string;
  readonly meter: string;
  readonly quantity: Quantity;
  readonly kind: ReadingKind;
  readonly unit: Unit;
  /** The store query window, epoch ms [from, to): what re-reading the store must return. */
  readonly from: number;
  readonly to: number;
  readonly readings: number;
  /** Merkle root over every line of the series (MERKLE_ENCODING). */
  readonly root: string;
  /** Roots of each local day (pack time zone) that has readings. */
  readonly days: DayRoot[];
  /** Export file (relative to the export directory) and the sha256 of its bytes. */
  readonly file: string;
  readonly fileSha256: string;
}

/** Sums of the monthly M&V rows whose month starts in the pack period. */
export interface PeriodTotals {
  readonly months: string[];
  readonly points: number;
  readonly counterfactual: number;
  readonly observed: number;
  readonly avoided: number;
  readonly fraction: number | null;
  readonly adjustment: number;
  readonly adjustedAvoided: number;
}

/** One M&V result in the pack, with everything needed to re-run it. */
export interface PackMvEntry {
  readonly meter: { readonly site: string; readonly building: string; readonly meter: string };
  /** Id of the `mv.result` record. */
  readonly resultRecord: string;
  /** Id of the `mv.inputs` record (the exact series used). */
  readonly inputsRecord: string;
  readonly recordedAtMs: number;
  readonly ranAtMs: number;
  readonly definition: AnalysisDefinition;
  /** Digest of the inputs (= result.lineage.inputs.series): sha256 of the canonical JSON of usage, temperatures, adjustments and station distance. */
  readonly inputsDigest: string;
  /** Pack series ids of the usage and the temperature readings. */
  readonly series: { readonly usage: string; readonly temperature: string };
  /** The non-routine adjustment register as the analysis read it. */
  readonly adjustments: NonRoutineAdjustment[];
  readonly weatherStationDistanceKm?: number;
  /** The whole result: every figure, with its lineage. */
  readonly result: AnalysisResult;
  /** The result's months inside the pack period. */
  readonly period: PeriodTotals;
}

/** Data-quality statement of one series over the pack period (DOMAIN.md §7). */
export interface PackQuality {
  readonly series: string;
  /** Epoch ms [from, to): the pack period clipped to the series window. */
  readonly from: number;
  readonly to: number;
  readonly readings: number;
  /** Typical step, s: the median interval (interval series) or median spacing (instant series). */
  readonly stepS: number | null;
  /** Share of the period with data, 0..1 (interval: Σ covered time; instant: hours with a reading). */
  readonly coverage: number;
  /** Gaps longer than one step (inside the period, including its start and end). */
  readonly gaps: number;
  readonly missingHours: number;
  readonly longestGap: { readonly from: number; readonly to: number } | null;
  /** Share of the period's hours the analysis fills by interpolation (instant temperatures, gaps ≤ 6 h; CalTRACK 2.2.4); 0 for interval energy, which is never imputed. */
  readonly imputedShare: number;
  readonly zeros: number;
  readonly negatives: number;
  /** Register events (rollover, reset, replacement, out of order) of the meter and quantity in the period, from the registry. */
  readonly registerEvents: Array<{ readonly ts: number; readonly type: string; readonly previousValue: number; readonly value: number; readonly note?: string }>;
}

export interface PackSignerInfo {
  readonly algorithm: 'Ed25519';
  /** SPKI PEM. */
  readonly publicKey: string;
  readonly fingerprint: string;
}

/** The signed body of a pack. */
export interface PackBody {
  readonly format: typeof PACK_FORMAT;
  readonly subject: PackSubject;
  readonly period: PackPeriod;
  readonly generatedAt: string;
  /** What the stores knew: records recorded after this instant (epoch ms) are not used. */
  readonly asOfMs: number;
  readonly generator: { readonly name: string; readonly version: string; readonly analytics: string };
  readonly encoding: { readonly json: string; readonly leaf: string; readonly merkle: string };
  readonly buildings: PackBuilding[];
  readonly mv: PackMvEntry[];
  /** Loan packs: covenant test records with their evaluations and observations (empty otherwise). */
  readonly covenants: PackCovenantTest[];
  /** Policy packs: settlement records with their claim files (empty otherwise). */
  readonly settlements: PackSettlement[];
  /** Loan and policy packs: the finance registry versions, profiles and readings snapshots the tests and settlements read. */
  readonly finance?: PackFinance;
  readonly inputs: PackSeries[];
  readonly dataQuality: PackQuality[];
  readonly methods: Array<{ readonly name: string; readonly version: string }>;
  readonly referenceData: ReferenceVersion[];
  readonly records: PackRecordRef[];
  readonly warnings: Finding[];
  readonly signer: PackSignerInfo;
}

export interface PackSignature {
  readonly algorithm: 'Ed25519';
  /** `sha256:` of the signed bytes (informational; the verifier recomputes it). */
  readonly digest: string;
  /** base64 Ed25519 signature of the canonical JSON of the pack without `signature`. */
  readonly value: string;
}

export type Pack = PackBody & { readonly signature: PackSignature };

/** A version of a finance registry entity (loan, policy, building profile) as the pack used it. */
export interface PackFinanceVersion<T> {
  /** `loan:<id>#v<n>`, `policy:<id>#v<n>`, `building-profile:<site>/<building>@<effectiveFrom>#v<n>` (the ids the evidence names). */
  readonly id: string;
  readonly version: number;
  readonly recordedAtMs: number;
  /** sha256 of the canonical JSON of `value` (the digest the evidence names). */
  readonly digest: string;
  readonly value: T;
}

/** A `finance.kpi_inputs` record (daily kWh and covered seconds of a meter) and its check against the readings. */
export interface PackSnapshot {
  readonly record: string;
  readonly key: string;
  readonly recordedAtMs: number;
  readonly body: KpiInputsSnapshot;
  /** Pack series id of the meter's readings over the snapshot's dates (as the store holds them when the pack is made). */
  readonly series: string;
  /** Daily sums recomputed from those readings compared with the snapshot: `matches` false when the readings were corrected after the snapshot. */
  readonly readings: { readonly matches: boolean; readonly days: number; readonly differingDays: Array<{ readonly date: string; readonly snapshot: [number, number] | null; readonly readings: [number, number] | null }> };
}

/** One stored covenant test (`finance.covenant_test`) with everything needed to re-derive it. */
export interface PackCovenantTest {
  readonly record: string;
  readonly recordedAtMs: number;
  readonly covenantId: string;
  readonly testDate: string;
  /** The instant the test was evaluated as of. */
  readonly asOfMs: number;
  readonly loanVersion: number;
  readonly spec: CovenantSpec;
  readonly evaluation: CovenantEvaluation;
  /** The KPI observations the evaluation read, as stored. */
  readonly observations: KpiObservation[];
  readonly observationsDigest: string;
  /** Every record the observations came from (the service's evidence list). */
  readonly evidence: UsedRecord[];
  readonly notes: Finding[];
  /** label_maintained: the profile versions the label was read from (ids in `finance.profiles`). */
  readonly profiles: string[];
  /** EUI and carbon intensity: the profile in force on each window's last day (id, or null when none). */
  readonly profilesOn: Record<string, string | null>;
  /** The service's lineage of the stored test. */
  readonly lineage: FinanceLineage;
}

/** One stored settlement (`finance.settlement`) with its claim file. */
export interface PackSettlement {
  readonly record: string;
  readonly recordedAtMs: number;
  readonly periodId: string;
  readonly asOfMs: number;
  readonly policyVersion: number;
  readonly claim: ClaimFile;
  readonly evidence: UsedRecord[];
  readonly lineage: FinanceLineage;
}

export interface PackFinance {
  /** The loan (loan packs) or policy (policy packs) as of the pack time. */
  readonly loan?: PackFinanceVersion<Loan>;
  readonly policy?: PackFinanceVersion<Policy>;
  /** Every loan or policy version a test or settlement used. */
  readonly versions: Array<PackFinanceVersion<Loan> | PackFinanceVersion<Policy>>;
  readonly profiles: PackFinanceVersion<BuildingProfile>[];
  readonly snapshots: PackSnapshot[];
}
