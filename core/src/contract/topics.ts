/**
 * Topic grammar of message contract v1. Topic strings live here and nowhere else.
 *
 *   wattproof/v1/<site>/<building>/<meter>/readings   readings (QoS 1, not retained)
 *   wattproof/v1/<site>/<building>/<meter>/status     online/offline (retained, Last Will)
 */

/** An id of a site, building or meter: a letter or digit, then letters, digits, `_`, `.`, `-`; at most 64. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const TOPIC_ROOT = 'wattproof/v1';

export type TopicChannel = 'readings' | 'status';

export interface MeterRef {
  readonly site: string;
  readonly building: string;
  readonly meter: string;
}

export interface ParsedTopic extends MeterRef {
  readonly channel: TopicChannel;
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** `site/building/meter`, the device's username and the key of a meter everywhere. */
export function meterKey(ref: MeterRef): string {
  return `${ref.site}/${ref.building}/${ref.meter}`;
}

/** Parses `site/building/meter`; returns undefined when it is not three valid ids. */
export function parseMeterKey(key: string): MeterRef | undefined {
  const parts = key.split('/');
  if (parts.length !== 3 || !parts.every(isValidId)) return undefined;
  const [site, building, meter] = parts as [string, string, string];
  return { site, building, meter };
}

export function readingsTopic(ref: MeterRef): string {
  return `${TOPIC_ROOT}/${meterKey(ref)}/readings`;
}

export function statusTopic(ref: MeterRef): string {
  return `${TOPIC_ROOT}/${meterKey(ref)}/status`;
}

/** The subscription the ingest uses: every meter's readings. */
export const ALL_READINGS_FILTER = `${TOPIC_ROOT}/+/+/+/readings`;
/** Every meter's status. */
export const ALL_STATUS_FILTER = `${TOPIC_ROOT}/+/+/+/status`;

/** Parses a concrete (wildcard-free) topic; undefined when it is not a v1 topic. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split('/');
  if (parts.length !== 6 || parts[0] !== 'wattproof' || parts[1] !== 'v1') return undefined;
  const [, , site, building, meter, channel] = parts as [string, string, string, string, string, string];
  if (channel !== 'readings' && channel !== 'status') return undefined;
  if (!isValidId(site) || !isValidId(building) || !isValidId(meter)) return undefined;
  return { site, building, meter, channel };
}

/** The topic filter covering everything a meter's device may use: `wattproof/v1/s/b/m/#`. */
export function meterPrefix(ref: MeterRef): string {
  return `${TOPIC_ROOT}/${meterKey(ref)}`;
}

/**
 * MQTT topic-filter matching ([MQTT-4.7.1-2], [MQTT-4.7.1-3]): `+` one level, `#` the rest.
 * Used for ACL checks of subscriptions against allowed filters.
 */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  for (let i = 0; i < a.length; i++) {
    const seg = a[i];
    if (seg === '#') return true;
    const req = r[i];
    if (req === undefined) return false;
    if (seg === '+') {
      if (req === '#') return false; // a multi-level request is wider than one level
      continue;
    }
    if (seg !== req) return false;
  }
  return a.length === r.length;
}
