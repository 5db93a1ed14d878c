import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig, type FinanceStore, type PartyRole } from '@wattproof/core';
import { API_ROLES, authConfigSchema, createAccessControl, financeStoreOf, formatGrant, parseExpiry, parseGrant, type AccessGrant, type ApiKeyInfo, type ApiRole } from '@wattproof/dashboards';
import { openRegistry, type Env } from '../runtime.js';

const HELP = `Usage:
  wattproof apikey add --role ROLE [--party ID] [--grant G]... [--expires DATE] --label TEXT
      Creates an API key and prints it ONCE (only a SHA-256 digest of its secret is stored).
      ROLE is one of ${API_ROLES.join(', ')}. --party is the finance-registry party the key acts
      for (a lender's bank, an insurer's insurer, an operator's owner or operator company).
      --grant (repeatable) adds loan:<id>, policy:<id>, building:<site>/<building> or
      party:<id>. --expires YYYY-MM-DD keeps it valid through that day (Asia/Shanghai) or takes
      an ISO 8601 time; default API_AUTH_KEY_DEFAULT_TTL_DAYS from now.
  wattproof apikey list [--json]
      Every key with role, party, grants, expiry and state (active, expired, revoked); no secrets.
  wattproof apikey revoke <keyId> [--reason TEXT]
      Refused at once by new processes, by running API processes within API_AUTH_KEY_CACHE_MS.

Send a key as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'. docs/access.md lists what
each role may read. The registry is REGISTRY_POSTGRES_URL when set, else the embedded files
in WATTPROOF_DATA_DIR (default ./data).
`;

/** The finance-registry role a key's party must have. */
const PARTY_ROLE_OF: Record<Exclude<ApiRole, 'admin'>, readonly PartyRole[]> = {
  lender: ['bank'],
  insurer: ['insurer'],
  verifier: ['verifier'],
  operator: ['owner', 'operator'],
};

function state(k: ApiKeyInfo, nowMs: number): string {
  if (k.revokedAtMs !== undefined) return `revoked ${new Date(k.revokedAtMs).toISOString()}`;
  if (k.expiresAtMs !== undefined && nowMs >= k.expiresAtMs) return 'expired';
  return 'active';
}

/** Problems with the party of a new key, checked against the finance registry when there is one. */
async function partyProblem(finance: FinanceStore | undefined, role: ApiRole, party: string | undefined): Promise<{ error?: string; warning?: string }> {
  if (role === 'admin' || party === undefined || !finance) return {};
  const found = await finance.getParty(party);
  if (!found) return { warning: `party ${party} is not in the finance registry (yet); the key reads nothing of it until it is` };
  const wanted = PARTY_ROLE_OF[role];
  if (!found.value.roles.some((r) => wanted.includes(r))) return { error: `party ${party} has roles ${found.value.roles.join(', ')}; a key of role ${role} needs a party with role ${wanted.join(' or ')}` };
  return {};
}

export async function runApikey(argv: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      role: { type: 'string' },
      party: { type: 'string' },
      grant: { type: 'string', multiple: true },
      expires: { type: 'string' },
      label: { type: 'string' },
      reason: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const [action, target, ...extra] = positionals;
  if (values.help || !action) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  if (extra.length) {
    process.stderr.write(`unexpected argument${extra.length > 1 ? 's' : ''}: ${extra.join(' ')}\n`);
    return 2;
  }
  const by = `cli:${userInfo().username}`;
  const grants: AccessGrant[] = [];
  let expiresAtMs: number | undefined;
  if (action === 'add') {
    if (!values.role || !(API_ROLES as readonly string[]).includes(values.role)) {
      process.stderr.write(`--role must be one of ${API_ROLES.join(', ')}\n`);
      return 2;
    }
    if (!values.label) {
      process.stderr.write('--label is required: say who the key is for and why (it shows in `apikey list` and nowhere else)\n');
      return 2;
    }
    for (const g of values.grant ?? []) {
      const parsed = parseGrant(g);
      if (!parsed) {
        process.stderr.write(`--grant ${g}: must be loan:<id>, policy:<id>, building:<site>/<building> or party:<id>\n`);
        return 2;
      }
      grants.push(parsed);
    }
    if (values.expires !== undefined) {
      expiresAtMs = parseExpiry(values.expires);
      if (expiresAtMs === undefined) {
        process.stderr.write(`--expires ${values.expires}: must be YYYY-MM-DD or an ISO 8601 time with a zone (2027-12-31T18:00:00+08:00)\n`);
        return 2;
      }
    }
  }

  const registry = await openRegistry(env);
  try {
    const access = createAccessControl({ registry }, loadConfig(authConfigSchema, env));
    switch (action) {
      case 'add': {
        const role = values.role as ApiRole;
        const check = await partyProblem(financeStoreOf(registry), role, values.party);
        if (check.error) {
          process.stderr.write(`${check.error}\n`);
          return 2;
        }
        if (check.warning) process.stderr.write(`warning: ${check.warning}\n`);
        const { key, info } = await access.createKey({
          role,
          ...(values.party !== undefined ? { party: values.party } : {}),
          grants,
          ...(expiresAtMs !== undefined ? { expiresAtMs } : {}),
          label: values.label!,
          createdBy: by,
        });
        process.stdout.write(
          `Created API key ${info.keyId} (${info.role}${info.party ? ` for ${info.party}` : ''})\n` +
            `  key:      ${key}\n` +
            `  grants:   ${info.grants.length ? info.grants.map(formatGrant).join(' ') : '(none)'}\n` +
            `  expires:  ${info.expiresAtMs !== undefined ? new Date(info.expiresAtMs).toISOString() : 'never'}\n` +
            `The key is shown only now; send it as 'Authorization: Bearer <key>'.\n`,
        );
        return 0;
      }
      case 'list': {
        const keys = await access.listKeys();
        const now = Date.now();
        if (values.json) {
          process.stdout.write(`${JSON.stringify(keys.map((k) => ({ ...k, state: state(k, now).split(' ')[0] })), null, 2)}\n`);
          return 0;
        }
        if (keys.length === 0) process.stdout.write('No API keys. Create one with `wattproof apikey add`.\n');
        for (const k of keys) {
          process.stdout.write(
            [
              k.keyId,
              k.role,
              k.party ?? '-',
              k.grants.length ? k.grants.map(formatGrant).join(',') : '-',
              `expires ${k.expiresAtMs !== undefined ? new Date(k.expiresAtMs).toISOString() : 'never'}`,
              state(k, now),
              JSON.stringify(k.label),
            ].join('\t') + '\n',
          );
        }
        return 0;
      }
      case 'revoke': {
        if (!target) break;
        const rev = await access.revokeKey(target, by, values.reason);
        process.stdout.write(`Revoked ${target} at ${new Date(rev.revokedAtMs).toISOString()}\n`);
        return 0;
      }
      default:
        process.stderr.write(`unknown action "${action}"\n\n${HELP}`);
        return 2;
    }
    process.stderr.write(`missing argument\n\n${HELP}`);
    return 2;
  } finally {
    await registry.close();
  }
}
