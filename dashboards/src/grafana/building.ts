/**
 * Building detail: the building's meters and sub-meters by end use, its load profile (hour of day
 * × day), and its M&V result — actual against the baseline with the uncertainty band, and the
 * cumulative savings. Rows: ./building-rows.ts.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { buildingVariable, finishDashboard, meterVariable, siteVariable, subMeterVariable, withRows, type GrafanaConfig } from './common.js';
import { endUseRow, loadProfileRow, mvRow } from './building-rows.js';
import { dashboardLinks } from './portfolio.js';

export const BUILDING_UID = 'wattproof-building';

/** The building detail dashboard. */
export function buildingDashboard(config: GrafanaConfig): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder('Wattproof · Building detail')
    .uid(BUILDING_UID)
    .description('Meters and sub-meters by end use, load profile, and verified savings (M&V) of one building.')
    .tags(['wattproof', 'generated'])
    .timezone(config.timezone)
    .time({ from: 'now-30d', to: 'now' })
    .refresh('5m')
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .withVariable(siteVariable(false))
    .withVariable(buildingVariable(false))
    .withVariable(meterVariable())
    .withVariable(subMeterVariable('building'))
    .link(dashboardLinks());
  return finishDashboard(withRows(builder, [endUseRow(config), loadProfileRow(config), mvRow(config)]).build());
}
