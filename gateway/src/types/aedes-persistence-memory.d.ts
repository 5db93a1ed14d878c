/** aedes-persistence 11's in-memory persistence class (promise API); its typings describe the default export's factory only. */
declare module 'aedes-persistence/asyncPersistence.js' {
  import type { Readable } from 'node:stream';
  export default class MemoryPersistence {
    /** aedes-packet's Packet: the copy of a PUBLISH a persistence keeps (brokerId, brokerCounter, messageId, ...). */
    static Packet: new (packet: unknown) => object;
    constructor(options?: { broadcastSubscriptions?: boolean });
    outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<void>;
    outgoingEnqueueCombi(subs: ReadonlyArray<{ clientId: string }>, packet: unknown): Promise<void>;
    outgoingUpdate(client: { id: string }, packet: unknown): Promise<void>;
    outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<unknown>;
    outgoingStream(client: { id: string }): Readable;
    subscriptionsByTopic(topic: string): Promise<Array<{ clientId: string; topic: string; qos: number }>>;
  }
}
