import { describe, expect, it } from 'vitest';
import { parser as createParser, type Packet } from 'mqtt-packet';
import { encodePuback, encodePublish } from '../../../bench/lib/mqtt-raw.js';

function decode(buf: Buffer): Packet[] {
  const out: Packet[] = [];
  const p = createParser();
  p.on('packet', (packet: Packet) => out.push(packet));
  p.parse(buf);
  return out;
}

describe('raw MQTT encoding', () => {
  it('encodes PUBLISH QoS 0 and 1 as mqtt-packet decodes them, across remaining-length sizes', () => {
    for (const size of [0, 100, 200, 20_000]) {
      const payload = Buffer.alloc(size, 'x');
      const [p0] = decode(encodePublish(Buffer.from('wattproof/v1/s/b/m/readings'), payload, 0));
      expect(p0).toMatchObject({ cmd: 'publish', qos: 0, topic: 'wattproof/v1/s/b/m/readings' });
      expect((p0 as { payload: Buffer }).payload.length).toBe(size);
      const [p1] = decode(encodePublish(Buffer.from('t'), payload, 1, 65_535));
      expect(p1).toMatchObject({ cmd: 'publish', qos: 1, messageId: 65_535, topic: 't' });
    }
  });
  it('encodes PUBACK', () => {
    expect(decode(encodePuback(258))).toMatchObject([{ cmd: 'puback', messageId: 258 }]);
  });
});
