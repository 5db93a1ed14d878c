/**
 * Topic-match caches: the subscriptions a topic matches, remembered per topic until the
 * subscriptions change.
 *
 * aedes matches the topic of every PUBLISH twice: against the session store's subscriptions
 * (`persistence.subscriptionsByTopic`, which finds the persistent sessions a QoS > 0 message is
 * queued for) and against the live subscriptions in its pub/sub (mqemitter's `_matcher`), each a
 * qlobber trie walk that first splits the topic into words. Devices publish to the same few topics
 * all day and subscriptions change only when a client subscribes, unsubscribes or goes, so the
 * answer for a topic is nearly always the one of its previous message. Measured before this
 * module (`npm run bench -- broker --brokers gateway --qos 1 --rates 10000 --reps 1 --seconds 10
 * --cpu-prof`, 2026-12-03 evening, 2 vCPU at 2.45 GHz): qlobber's functions took 7.2 % of the
 * gateway's main thread, 6.8 µs of its 95 µs of CPU per message; the cached answer is one Map
 * lookup. docs/PERFORMANCE.md ("Topic matches cached per topic") has the A/B runs.
 *
 * Correctness: an answer is cached only when no subscription changed while it was computed
 * (a generation count, raised before and after every change), and every change empties the cache,
 * so a lookup returns what the trie would return at that moment. The cached arrays are the
 * matchers' own results; aedes, mqemitter (fastparallel) and the persistences only read them.
 * The cache holds at most `maxTopics` topics and is emptied when full, so a deployment with more
 * distinct topics than that pays one trie walk per message, as without it, plus the Map upkeep.
 */

/** How many topics a cache remembers: about 8 MiB at 120 bytes a topic (its string, the Map entry and the answer). */
export const MATCH_CACHE_MAX_TOPICS = 65_536;

/** One topic → answer map with the generation count that keeps answers computed across a change out of it. */
export class TopicMatchCache<T> {
  readonly #answers = new Map<string, T>();
  #generation = 0;
  #changing = 0;
  #hits = 0;
  #misses = 0;

  constructor(readonly maxTopics: number = MATCH_CACHE_MAX_TOPICS) {
    if (!Number.isInteger(maxTopics) || maxTopics < 1) throw new RangeError(`maxTopics must be a positive integer, got ${maxTopics}`);
  }

  /** The cached answer for `topic`, or undefined (counted as a miss). */
  get(topic: string): T | undefined {
    const answer = this.#answers.get(topic);
    if (answer === undefined) this.#misses++;
    else this.#hits++;
    return answer;
  }

  /** A token to pass to `set` with an answer computed after taking it. */
  generation(): number {
    return this.#changing > 0 ? -1 : this.#generation;
  }

  /** Remembers `answer` unless a change began or ended since `generation` was taken (or one was in progress then). */
  set(topic: string, answer: T, generation: number): void {
    // Both ends of a change raise the generation, and one taken during a change is -1.
    if (generation !== this.#generation) return;
    if (this.#answers.size >= this.maxTopics) this.#answers.clear();
    this.#answers.set(topic, answer);
  }

  /** A change of the subscriptions begins: nothing cached is valid, nothing computed until `changed()` will be cached. */
  changing(): void {
    this.#changing++;
    this.#generation++;
    this.#answers.clear();
  }

  /** The change begun by `changing()` is complete. */
  changed(): void {
    this.#changing--;
    this.#generation++;
    this.#answers.clear();
  }

  stats(): { topics: number; hits: number; misses: number } {
    return { topics: this.#answers.size, hits: this.#hits, misses: this.#misses };
  }
}

/** What `cacheMatcherMatches` needs of a qlobber: the calls mqemitter makes on its `_matcher`. */
export interface TopicMatcher {
  match(topic: string): unknown;
  add(topic: string, value: unknown): unknown;
  remove(topic: string, value?: unknown): unknown;
  clear?(): unknown;
}

/**
 * Caches `matcher.match` on the instance; `add`, `remove` and `clear` (synchronous) empty the
 * cache. For mqemitter's `_matcher`, which mqemitter (and mqemitter-redis, which inherits it)
 * changes only through these calls.
 */
export function cacheMatcherMatches(matcher: TopicMatcher, maxTopics?: number): TopicMatchCache<unknown> {
  const cache = new TopicMatchCache<unknown>(maxTopics);
  const match = matcher.match.bind(matcher);
  for (const name of ['add', 'remove', 'clear'] as const) {
    const original = matcher[name]?.bind(matcher) as ((...args: unknown[]) => unknown) | undefined;
    if (!original) continue;
    (matcher as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      cache.changing();
      try {
        return original(...args);
      } finally {
        cache.changed();
      }
    };
  }
  matcher.match = (topic: string) => {
    const cached = cache.get(topic);
    if (cached !== undefined) return cached;
    const generation = cache.generation();
    const answer = match(topic);
    cache.set(topic, answer, generation);
    return answer;
  };
  return cache;
}

/**
 * mqemitter's trie, or undefined when `mq` has none of the expected shape (another pub/sub, or
 * an mqemitter whose internals moved: then nothing is cached; test/gateway/match-cache.test.ts
 * checks that the pinned mqemitter and mqemitter-redis have it).
 */
export function mqMatcher(mq: unknown): TopicMatcher | undefined {
  const matcher = (mq as { _matcher?: Partial<TopicMatcher> } | undefined)?._matcher;
  if (!matcher || typeof matcher.match !== 'function' || typeof matcher.add !== 'function' || typeof matcher.remove !== 'function') return undefined;
  return matcher as TopicMatcher;
}

/** The persistence calls that change its subscriptions (aedes-persistence 11's API, all async; `setup` loads them from disk). */
const SUBSCRIPTION_CHANGES = ['setup', 'addSubscriptions', 'removeSubscriptions', 'cleanSubscriptions'] as const;

/**
 * Caches `persistence.subscriptionsByTopic` on the instance; the calls that change subscriptions
 * empty the cache when they begin and when they settle, and answers computed meanwhile are not kept.
 * Only for a persistence whose subscriptions change through this instance alone (in memory, or
 * LevelDB on local disk); not for one shared by a cluster, which other nodes change.
 */
export function cacheSubscriptionsByTopic<P extends { subscriptionsByTopic(topic: string): Promise<unknown> }>(
  persistence: P,
  maxTopics?: number,
): TopicMatchCache<unknown> {
  const cache = new TopicMatchCache<unknown>(maxTopics);
  const target = persistence as unknown as Record<string, unknown>;
  for (const name of SUBSCRIPTION_CHANGES) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    // An async function, as aedes requires of `setup` (it checks); it calls `original` at once, synchronously.
    target[name] = async (...args: unknown[]) => {
      cache.changing();
      try {
        return await (original as (...a: unknown[]) => unknown).apply(persistence, args);
      } finally {
        cache.changed();
      }
    };
  }
  const subscriptionsByTopic = persistence.subscriptionsByTopic.bind(persistence);
  persistence.subscriptionsByTopic = async (topic: string) => {
    const cached = cache.get(topic);
    if (cached !== undefined) return cached;
    const generation = cache.generation();
    const answer = await subscriptionsByTopic(topic);
    cache.set(topic, answer, generation);
    return answer;
  };
  return cache;
}
