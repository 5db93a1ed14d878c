/**
 * Grafana provisioning of the datasources and the dashboard provider. Credentials and addresses
 * are environment variables Grafana expands when it reads the files (`$NAME`); no secret is
 * written here.
 */
import { DATASOURCE_UIDS, INFLUX_DS, POSTGRES_DS, type GrafanaConfig } from './common.js';

const env = (name: string): string => `$${name}`;

/** `provisioning/datasources/wattproof.yaml`. */
export function datasourcesProvisioning(config: GrafanaConfig): Record<string, unknown> {
  const e = config.env;
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'Wattproof InfluxDB',
        uid: DATASOURCE_UIDS.influxdb,
        type: INFLUX_DS.type,
        access: 'proxy',
        orgId: 1,
        url: env(e.influxUrl),
        // InfluxQL: native on 1.x; on 2.x through the v1-compatible API (the database is the bucket
        // via its DBRP mapping), logged in with a read-only v1 user, or any user name and an API
        // token as the password. No token header: it would take precedence over the read-only login.
        user: env(e.influxUsername),
        jsonData: { version: 'InfluxQL', dbName: env(e.influxDatabase), httpMode: 'POST' },
        secureJsonData: { password: env(e.influxPassword) },
        isDefault: true,
        editable: false,
        version: 1,
      },
      {
        name: 'Wattproof registry (PostgreSQL)',
        uid: DATASOURCE_UIDS.postgres,
        type: POSTGRES_DS.type,
        access: 'proxy',
        orgId: 1,
        url: env(e.postgresHost),
        user: env(e.postgresUser),
        jsonData: { database: env(e.postgresDatabase), sslmode: config.postgresSslMode, postgresVersion: 1500, timescaledb: false, maxOpenConns: 5 },
        secureJsonData: { password: env(e.postgresPassword) },
        isDefault: false,
        editable: false,
        version: 1,
      },
    ],
  };
}

/** Subdirectory (under `dashboardsPath` and dashboards/grafana/dashboards) of each folder's dashboards. */
export const DASHBOARD_DIRS = { wattproof: 'wattproof', lender: 'lender', insurer: 'insurer' } as const;
export type DashboardDir = keyof typeof DASHBOARD_DIRS;

/**
 * Stable UIDs of the finance folders, so their permissions can be set through Grafana's API
 * (`/api/folders/<uid>/permissions`). The Wattproof folder keeps the UID Grafana gave it.
 */
export const FINANCE_FOLDER_UIDS = { lender: 'wattproof-lender-folder', insurer: 'wattproof-insurer-folder' } as const;

/** The Grafana folder of each dashboard directory. */
export function folderOf(config: GrafanaConfig, dir: DashboardDir): string {
  return dir === 'wattproof' ? config.folder : config.financeFolders[dir];
}

/**
 * `provisioning/dashboards/wattproof.yaml`: one file provider per folder, each reading its own
 * subdirectory of `dashboardsPath` (a provider reads its path recursively, so the paths do not
 * nest). Folder permissions are not part of file provisioning: set them in Grafana.
 */
export function dashboardsProvisioning(config: GrafanaConfig): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: (Object.keys(DASHBOARD_DIRS) as DashboardDir[]).map((dir) => ({
      name: dir === 'wattproof' ? 'wattproof' : `wattproof-${dir}`,
      orgId: 1,
      folder: folderOf(config, dir),
      ...(dir === 'wattproof' ? {} : { folderUid: FINANCE_FOLDER_UIDS[dir] }),
      type: 'file',
      disableDeletion: true,
      allowUiUpdates: false,
      updateIntervalSeconds: 60,
      options: { path: `${config.dashboardsPath}/${DASHBOARD_DIRS[dir]}`, foldersFromFilesStructure: false },
    })),
  };
}
