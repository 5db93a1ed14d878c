/**
 * Topic ACLs. A device may publish only its own readings and status, and subscribe only under
 * its own meter prefix; services (ingest) and operators may subscribe to all v1 topics and
 * publish nothing; anonymous clients (only when explicitly allowed) are unrestricted.
 */
import { ALL_READINGS_FILTER, filterCovers, meterPrefix, parseTopic, TOPIC_ROOT, type Principal } from '@wattproof/core';

/** Who is connected: a principal from the registry, or anonymous. */
export type Identity = { kind: 'principal'; principal: Principal } | { kind: 'anonymous' };

export type AclDecision = { ok: true } | { ok: false; reason: string };

const ALLOWED = { ok: true } as const;

export function canPublish(identity: Identity, topic: string): AclDecision {
  if (topic.startsWith('$')) return { ok: false, reason: `topics starting with $ are reserved (${topic})` };
  if (identity.kind === 'anonymous') return ALLOWED;
  const p = identity.principal;
  if (p.role !== 'device' || !p.meter) return { ok: false, reason: `${p.role} "${p.username}" may not publish` };
  const parsed = parseTopic(topic);
  if (!parsed) return { ok: false, reason: `"${topic}" is not a wattproof/v1 topic` };
  const m = p.meter;
  if (parsed.site !== m.site || parsed.building !== m.building || parsed.meter !== m.meter) {
    return { ok: false, reason: `device "${p.username}" may publish only under ${meterPrefix(m)}/, not to ${topic}` };
  }
  return ALLOWED;
}

export function canSubscribe(identity: Identity, filter: string): AclDecision {
  if (identity.kind === 'anonymous') return filter.startsWith('$') ? { ok: false, reason: 'reserved topic' } : ALLOWED;
  const p = identity.principal;
  const allowed = p.role === 'device' && p.meter ? [`${meterPrefix(p.meter)}/#`] : [`${TOPIC_ROOT}/#`, ALL_READINGS_FILTER];
  if (allowed.some((a) => filterCovers(a, filter))) return ALLOWED;
  return { ok: false, reason: `${p.role} "${p.username}" may not subscribe to ${filter}` };
}
