/**
 * Readers of the deployment files for test/compose: docker-compose.yml (YAML, aliases resolved),
 * env files in the syntax `docker compose` reads, the Dockerfile's stages and the .dockerignore
 * patterns it uses. Small on purpose: each reads only the subset of its format this repository
 * writes, and throws on anything else rather than guessing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../support/processes.js';

export interface Healthcheck {
  readonly test?: string[];
  readonly disable?: boolean;
  readonly interval?: string;
  readonly timeout?: string;
  readonly retries?: number;
  readonly start_period?: string;
}

export interface ComposeService {
  readonly image?: string;
  readonly build?: { context: string; args?: Record<string, string> };
  readonly pull_policy?: string;
  readonly depends_on?: Record<string, { condition: string }>;
  readonly volumes?: string[];
  readonly environment?: Record<string, string>;
  readonly env_file?: string[];
  readonly ports?: string[];
  readonly entrypoint?: string[];
  readonly command?: string[];
  readonly restart?: string;
  readonly healthcheck?: Healthcheck;
  readonly init?: boolean;
}

export interface ComposeFile {
  readonly name: string;
  readonly services: Record<string, ComposeService>;
  readonly volumes: Record<string, unknown>;
}

export const COMPOSE_PATH = join(REPO_ROOT, 'docker-compose.yml');

export function readCompose(path = COMPOSE_PATH): ComposeFile {
  return parseYaml(readFileSync(path, 'utf8'), { merge: true }) as ComposeFile;
}

/**
 * Compose interpolation as far as this file uses it: `$$` is a literal `$`, `${VAR:-default}` and
 * `${VAR}` / `$VAR` take the value from `vars` (the shell or the project's .env file).
 */
export function interpolate(value: string, vars: Record<string, string | undefined> = {}): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, braced?: string, dflt?: string, bare?: string) => {
    if (m === '$$') return '$';
    const v = vars[(braced ?? bare)!];
    return v !== undefined && v !== '' ? v : (dflt ?? '');
  });
}

/**
 * An env file as `docker compose` reads it (`env_file:`), restricted to what the templates use:
 * `KEY=VALUE` lines, `#` comment lines and blank lines; a value may be quoted.
 * @throws Error on any other line, or a key given twice.
 */
export function parseEnvFile(text: string, what = 'env file'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`${what}:${i + 1}: not KEY=VALUE: ${raw}`);
    const [, key, value] = m as unknown as [string, string, string];
    if (key in out) throw new Error(`${what}:${i + 1}: ${key} given twice`);
    const quoted = /^(['"])(.*)\1$/.exec(value);
    out[key] = quoted ? quoted[2]! : value;
  }
  return out;
}

export function readEnvFile(relPath: string): Record<string, string> {
  return parseEnvFile(readFileSync(join(REPO_ROOT, relPath), 'utf8'), relPath);
}

/** One `FROM` stage of a Dockerfile: its name and its instructions (continuations joined). */
export interface DockerStage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: Array<{ readonly op: string; readonly args: string }>;
}

/** The Dockerfile as stages; comments dropped, `\` continuations joined, ARGs before the first FROM kept apart. */
export function readDockerfile(path = join(REPO_ROOT, 'Dockerfile')): { args: Record<string, string>; stages: DockerStage[] } {
  const logical: string[] = [];
  let current = '';
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1).trimEnd()} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot read "${line}"`);
    const op = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!f) throw new Error(`Dockerfile: cannot read "${line}"`);
      stages.push({ from: interpolate(f[1]!, args), ...(f[2] ? { name: f[2] } : {}), instructions: [] });
    } else if (stages.length === 0) {
      if (op !== 'ARG') throw new Error(`Dockerfile: ${op} before the first FROM`);
      const a = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(rest);
      args[a![1]!] = a![2] ?? '';
    } else {
      stages.at(-1)!.instructions.push({ op, args: rest });
    }
  }
  return { args, stages };
}

/** `ENV` of a stage, `KEY=VALUE` pairs (the form this Dockerfile writes; values without spaces). */
export function stageEnv(stage: DockerStage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { op, args } of stage.instructions) {
    if (op !== 'ENV') continue;
    for (const pair of args.split(/\s+/)) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(pair);
      if (!m) throw new Error(`Dockerfile: ENV ${args}: write KEY=VALUE pairs`);
      env[m[1]!] = m[2]!;
    }
  }
  return env;
}

/** The JSON-array form of an instruction (exec form), e.g. `CMD ["node", "x"]`; HEALTHCHECK options skipped. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not an exec-form array: ${args}`);
  return parsed as string[];
}

/**
 * Whether .dockerignore excludes `relPath` from the build context, for the pattern kinds the file
 * uses: a path (itself and everything under it), `**\/name` (that name at any depth, and under
 * it) and basename globs with `*`. `!` exceptions are not supported (and not used).
 */
export function dockerIgnored(relPath: string, patterns: readonly string[]): boolean {
  const parts = relPath.split('/');
  const glob = (p: string) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return patterns.some((raw) => {
    if (raw.startsWith('!')) throw new Error('.dockerignore exceptions (!) are not supported by this reader');
    const p = raw.replace(/^\/+/, '').replace(/\/+$/, '');
    if (p.startsWith('**/')) {
      const re = glob(p.slice(3));
      return parts.some((seg) => re.test(seg));
    }
    const pParts = p.split('/');
    return pParts.length <= parts.length && pParts.every((seg, i) => glob(seg).test(parts[i]!));
  });
}

export function readDockerignore(): string[] {
  return readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
