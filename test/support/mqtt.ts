import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Duplex } from 'node:stream';

/** Connects a real MQTT.js client over TCP; rejects with the CONNACK error (e.g. code 4/5). */
export function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    // Generous: logins with supplied secrets cost a scrypt verification each, slow on a loaded 2-core machine.
    const client = connect(url, { reconnectPeriod: 0, connectTimeout: 30_000, ...options });
    const onError = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once('error', onError);
    client.once('connect', () => {
      client.off('error', onError);
      resolve(client);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The gateway's side of a connected client's connection (aedes keeps it on the client; no public API). */
export function gatewayConnection(gateway: { broker(): unknown }, clientId: string): Duplex {
  const client = (gateway.broker() as { clients: Record<string, { conn: Duplex } | undefined> }).clients[clientId];
  if (!client) throw new Error(`no client ${clientId} connected to the gateway`);
  return client.conn;
}
