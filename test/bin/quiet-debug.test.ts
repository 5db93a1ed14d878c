import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { format, promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { quietDebug, type DebugFactory, type DebugLogger } from '../../bin/quiet-debug.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
const run = promisify(execFile);

/** A fresh copy of the real `debug` package's factory, with its log output captured. */
function freshDebug(): { createDebug: DebugFactory & { enable(ns: string): void; log: (...a: unknown[]) => void }; lines: string[] } {
  const path = require.resolve('debug');
  for (const key of Object.keys(require.cache)) if (key.startsWith(path.replace(/index\.js$/, ''))) delete require.cache[key];
  const createDebug = require(path);
  const lines: string[] = [];
  createDebug.log = (...args: unknown[]) => lines.push(format(...args));
  return { createDebug, lines };
}

describe('quietDebug', () => {
  it('hands out an empty function for a disabled namespace, which logs nothing', () => {
    const { createDebug, lines } = freshDebug();
    createDebug.enable('');
    const d: DebugLogger = quietDebug(createDebug)('mqtt-packet:parser');
    expect(d.enabled).toBe(false);
    expect(d.namespace).toBe('mqtt-packet:parser');
    expect(d.length).toBe(0);
    expect(d('parse: %o', { cmd: 'publish' })).toBeUndefined();
    expect(d.extend('x').namespace).toBe('mqtt-packet:parser:x');
    expect(d.extend('x').enabled).toBe(false);
    expect(lines).toEqual([]);
  });

  it('hands out the real logger for a namespace DEBUG enables, which logs', () => {
    const { createDebug, lines } = freshDebug();
    createDebug.enable('mqtt-packet:*');
    const quiet = quietDebug(createDebug);
    const d = quiet('mqtt-packet:parser');
    expect(d.enabled).toBe(true);
    d('parse: %s', 'publish');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('parse: publish');
    // The factory's own functions are the real ones.
    expect(quiet.enabled('mqtt-packet:writeToStream')).toBe(true);
    expect(quiet.enabled('mqttjs:client')).toBe(false);
    expect(quiet('mqttjs:client').enabled).toBe(false);
  });
});

/**
 * In a fresh Node process, as bin/wattproof.js does it: install, load aedes, then enable
 * mqtt-packet's loggers at run time. aedes' parser was given quiet loggers, so it stays silent;
 * without the install the same steps log. With DEBUG set at start-up it logs.
 */
describe('installQuietDebug', () => {
  const script = (install: boolean) => `
    const { createRequire } = await import('node:module');
    const { installQuietDebug } = await import(${JSON.stringify(`${ROOT}bin/quiet-debug.ts`)});
    if (${install}) installQuietDebug();
    await import('aedes');
    const require = createRequire(${JSON.stringify(`${ROOT}gateway/src/gateway.ts`)});
    const aedesRequire = createRequire(require.resolve('aedes'));
    const mqttPacket = aedesRequire('mqtt-packet');
    if (!process.env.DEBUG) require('debug').enable('mqtt-packet:*');
    const parser = mqttPacket.parser();
    let parsed = 0;
    parser.on('packet', () => parsed++);
    parser.parse(mqttPacket.generate({ cmd: 'publish', topic: 'a/b', payload: 'x', qos: 0 }));
    console.log('parsed', parsed);
  `;
  const child = async (install: boolean, env: Record<string, string> = {}) => {
    const { DEBUG: _, ...rest } = process.env;
    return run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(install)], { cwd: ROOT, env: { ...rest, ...env } });
  };

  it("reaches aedes' mqtt-packet: loggers created while disabled stay silent", async () => {
    const quiet = await child(true);
    expect(quiet.stdout).toContain('parsed 1');
    expect(quiet.stderr).not.toContain('mqtt-packet:parser');
    const stock = await child(false);
    expect(stock.stdout).toContain('parsed 1');
    expect(stock.stderr).toContain('mqtt-packet:parser');
  });

  it('keeps DEBUG working', async () => {
    const { stdout, stderr } = await child(true, { DEBUG: 'mqtt-packet:parser' });
    expect(stdout).toContain('parsed 1');
    expect(stderr).toContain('mqtt-packet:parser');
    expect(stderr).toContain('_parseHeader');
  });
});
