#!/usr/bin/env node
// The `wattproof` command. Sources are TypeScript, run through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
// Before anything loads `debug` (aedes, MQTT.js): disabled debug loggers that cost nothing to call.
const { installQuietDebug } = await import('./quiet-debug.ts');
installQuietDebug();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2), process.env);
