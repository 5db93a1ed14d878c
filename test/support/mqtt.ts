import { connect, type IClientOptions, type MqttClient } from 'mqtt';

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
