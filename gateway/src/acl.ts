/**
 * Topic ACLs. A device may publish only its own readings and status, and subscribe only under
 * its own meter prefix; an aggregator (a data concentrator of one site) may publish the readings
 * and status of any meter of its site, and subscribe only under that site; services (ingest) and
 * operators may subscribe to all v1 topics and publish nothing; anonymous clients (only when
 * explicitly allowed) are unrestricted.
 */
import { ALL_READINGS_FILTER, filterCovers, meterPrefix, parseTopic, TOPIC_ROOT, type Principal, type TopicChannel } from '@wattproof/core';

/** Who is connected: a principal from the registry, or anonymous. */
export type Identity = { kind: 'principal'; principal: Principal } | { kind: 'anonymous' };

export type AclDecision = { ok: true } | { ok: false; reason: string };

const ALLOWED = { ok: true } as const;

/** `wattproof/v1/<site>`: everything an aggregator of that site may use lies below it. */
export function sitePrefix(site: string): string {
  return `${TOPIC_ROOT}/${site}`;
}

export function canPublish(identity: Identity, topic: string): AclDecision {
  if (topic.startsWith('$')) return { ok: false, reason: `topics starting with $ are reserved (${topic})` };
  if (identity.kind === 'anonymous') return ALLOWED;
  const p = identity.principal;
  if (p.role === 'aggregator' && p.site) {
    const parsed = parseTopic(topic);
    if (!parsed) return { ok: false, reason: `"${topic}" is not a wattproof/v1 topic` };
    if (parsed.site !== p.site) return { ok: false, reason: `aggregator "${p.username}" may publish only under ${sitePrefix(p.site)}/, not to ${topic}` };
    return ALLOWED;
  }
  if (p.role !== 'device' || !p.meter) return { ok: false, reason: `${p.role} "${p.username}" may not publish` };
  const parsed = parseTopic(topic);
  if (!parsed) return { ok: false, reason: `"${topic}" is not a wattproof/v1 topic` };
  const m = p.meter;
  if (parsed.site !== m.site || parsed.building !== m.building || parsed.meter !== m.meter) {
    return { ok: false, reason: `device "${p.username}" may publish only under ${meterPrefix(m)}/, not to ${topic}` };
  }
  return ALLOWED;
}

/** What one connection may do with one topic: the ACL decision, and the topic's v1 channel (undefined: not a v1 topic). */
export interface PublishRights {
  readonly decision: AclDecision;
  readonly channel: TopicChannel | undefined;
}

/**
 * `canPublish` and the topic's channel for the topics one connection publishes to, the last topic
 * remembered: a device publishes to the same topic message after message, and the identity of a
 * connection never changes, so neither does the decision for a topic. Checking and parsing the
 * topic again for every message (two `split`s, six regular expressions, two objects) was 3-10 %
 * of the gateway's profiled time at 10k msg/s QoS 0 (`parseTopic`, `isValidId`, `canPublish` self
 * time; `npm run bench -- broker --cpu-prof`); a hit is one string comparison. In process (aedes'
 * authorizePublish hook and broker.publish, no sockets; medians of 7, 2026-11-30) a QoS 0 PUBLISH
 * went from 2.34 to 1.71 µs with it.
 */
export function createPublishRights(identity: Identity): (topic: string) => PublishRights {
  let lastTopic: string | undefined;
  let last: PublishRights = { decision: ALLOWED, channel: undefined };
  return (topic) => {
    if (topic !== lastTopic) {
      last = { decision: canPublish(identity, topic), channel: parseTopic(topic)?.channel };
      lastTopic = topic;
    }
    return last;
  };
}

/** The topic filters a principal may subscribe within. */
function subscribeScope(p: Principal): string[] {
  if (p.role === 'device') return p.meter ? [`${meterPrefix(p.meter)}/#`] : [];
  if (p.role === 'aggregator') return p.site ? [`${sitePrefix(p.site)}/#`] : [];
  return [`${TOPIC_ROOT}/#`, ALL_READINGS_FILTER];
}

export function canSubscribe(identity: Identity, filter: string): AclDecision {
  if (identity.kind === 'anonymous') return filter.startsWith('$') ? { ok: false, reason: 'reserved topic' } : ALLOWED;
  const p = identity.principal;
  if (subscribeScope(p).some((a) => filterCovers(a, filter))) return ALLOWED;
  return { ok: false, reason: `${p.role} "${p.username}" may not subscribe to ${filter}` };
}
