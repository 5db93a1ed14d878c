/**
 * eui_above_quota: a building whose rolling 12-month EUI — site electricity of its main meters
 * (meters without a parent, so sub-meters are not counted twice; PV is not consumption) over the
 * last 12 complete local months, per m² of floor area, annualised over the months with data — is
 * above the GB/T 51161 constraint value of its type (DOMAIN.md §4; the quota table is the
 * analytics' versioned reference data, the EUI is the analytics' `eui`).
 *
 * A month counts when every main meter covers at least half of it; its energy is scaled to full
 * coverage (as a day counts from 50 % of its intervals, CalTRACK 2.2.2.1). At least
 * ALERT_EUI_MIN_MONTHS months must count. Quotas marked unconfirmed raise a warning, confirmed ones
 * a critical alert.
 *
 * Evidence: eui, quota (constraint, guide, type, confirmed, reference), floor area, energy, the
 * window, months covered and each month's energy and coverage.
 */
import { eui } from '../../carbon.js';
import { createZone, formatDate } from '../../prep/local-time.js';
import { referenceData } from '../../reference.js';
import { alertId, iso, num, round, type EvaluationContext } from '../context.js';
import type { AlertFinding, RuleOutcome } from '../types.js';

/** A month counts for EUI from this share of coverage on every main meter. */
export const EUI_MONTH_MIN_COVERAGE = 0.5;

export async function evaluateEuiAboveQuota(ctx: EvaluationContext): Promise<RuleOutcome> {
  const judged = new Set<string>();
  const findings: AlertFinding[] = [];
  const skipped: Record<string, number> = {};
  const skip = (why: string) => (skipped[why] = (skipped[why] ?? 0) + 1);
  const quotas = referenceData().quotas.data;
  for (const b of ctx.buildings) {
    if (!b.floorAreaM2 || !b.type) {
      skip('no_floor_area_or_type');
      continue;
    }
    const quota = quotas.quotas.find((q) => q.buildingType === b.type);
    if (!quota) {
      skip('no_quota_for_type');
      continue;
    }
    const inBuilding = ctx.meters.filter((m) => m.ref.site === b.site && m.ref.building === b.id);
    const elec = inBuilding.filter((m) => m.series.some((s) => s.quantity === 'electricity' && s.kind === 'interval'));
    const names = new Set(elec.map((m) => m.ref.meter));
    // Main meters: no parent, or a parent that has no electricity series of its own here.
    const mains = elec.filter((m) => !m.meter?.parent || !names.has(m.meter.parent));
    if (mains.length === 0) {
      skip('no_energy_meter');
      continue;
    }
    const tz = ctx.timeZone(b.site);
    const zone = createZone(tz);
    const p = zone.parts(ctx.now);
    const to = zone.startOfDay(formatDate(p.year, p.month, 1));
    const fromMonth = { y: p.year - 1, m: p.month };
    const from = zone.startOfDay(formatDate(fromMonth.y, fromMonth.m, 1));
    const perMeter = await Promise.all(mains.map((m) => ctx.readings.aggregate({ ...m.ref, quantity: 'electricity', kind: 'interval', from, to, bucket: '1mo', tz })));
    // Month starts of the window, in order.
    const months: number[] = [];
    for (let y = fromMonth.y, m = fromMonth.m, i = 0; i < 12; i++) {
      months.push(zone.startOfDay(formatDate(y, m, 1)));
      if (++m > 12) {
        m = 1;
        y++;
      }
    }
    let energy = 0;
    let days = 0;
    let covered = 0;
    const monthRows = months.map((start, i) => {
      const end = months[i + 1] ?? to;
      const rows = perMeter.map((rs) => rs.find((r) => r.start === start));
      const coverages = rows.map((r) => r?.coverage ?? 0);
      const minCoverage = Math.min(...coverages);
      const monthEnergy = rows.reduce((a, r) => a + (r && r.coverage ? r.sum / Math.min(1, r.coverage) : 0), 0);
      const counts = minCoverage >= EUI_MONTH_MIN_COVERAGE;
      if (counts) {
        covered++;
        energy += monthEnergy;
        days += (end - start) / 86_400_000;
      }
      return { month: zone.date(start).slice(0, 7), energyKwh: round(monthEnergy, 3), coverage: round(minCoverage, 4), counted: counts };
    });
    if (covered < ctx.config.ALERT_EUI_MIN_MONTHS) {
      skip('too_few_months');
      continue;
    }
    const id = alertId('eui_above_quota', { site: b.site, building: b.id });
    judged.add(id);
    const r = eui({ energyKwh: energy, windowDays: days, floorAreaM2: b.floorAreaM2, buildingType: b.type, quotas });
    if (!r.quota || r.quota.meetsConstraint) continue;
    const name = `${b.site}/${b.id}`;
    findings.push({
      id,
      rule: 'eui_above_quota',
      severity: r.quota.confirmed ? 'critical' : 'warning',
      site: b.site,
      building: b.id,
      title: `EUI above the GB/T 51161 constraint at ${name}`,
      titleZh: `${name} 能耗强度超过 GB/T 51161 约束值`,
      message: `Rolling 12-month EUI of ${name} is ${num(r.eui, 1)} kWh/(m²·a), above the constraint value ${quota.constraint} for ${quota.label}${quota.confirmed ? '' : ' (quota value unconfirmed)'}; ${covered} of 12 months covered.`,
      messageZh: `${name} 滚动 12 个月能耗强度为 ${num(r.eui, 1)} kWh/(m²·a)，超过 ${quota.buildingType} 的约束值 ${quota.constraint}${quota.confirmed ? '' : '（限额值待确认）'}；覆盖 12 个月中的 ${covered} 个月。`,
      evidence: {
        eui: round(r.eui, 3),
        unit: 'kWh/(m2·a)',
        quota: r.quota,
        floorAreaM2: b.floorAreaM2,
        energyKwh: round(energy, 3),
        windowDays: days,
        from: iso(from),
        to: iso(to),
        monthsCovered: covered,
        months: monthRows,
        meters: mains.map((m) => m.ref.meter),
      },
    });
  }
  return { judged, findings, skipped };
}
