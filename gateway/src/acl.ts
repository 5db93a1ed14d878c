/**
 * Topic ACLs. A device may publish only its own readings and status, and subscribe only under
 * its own meter prefix; an aggregator (a data concentrator of one site) may publish the readings
 * and status of any meter of its site, and subscribe only under that site; services (ingest) and
 * operators may subscribe to all v1 topics and publish nothing; anonymous clients (only when
 * explicitly allowed) are unrestricted.
 */
import { ALL_READINGS_FILTER, filterCovers, meterPrefix, parseTopic, TOPIC_ROOT, type Principal } from '@wattproof/core';

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
