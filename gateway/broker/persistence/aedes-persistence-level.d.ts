/**
 * aedes-persistence-level 9 ships no typings. Its default export wraps a LevelDB handle (classic-level) in aedes'
 * persistence interface (aedes-persistence's CallBackPersistence: every method also returns a promise when called
 * without a callback, which is how aedes 1.x calls it). Only what the gateway uses is declared.
 */
declare module 'aedes-persistence-level' {
  import type { ClassicLevel } from 'classic-level';

  export interface LevelPersistence {
    setup(broker: unknown): Promise<void>;
    outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<unknown>;
    outgoingUpdate(client: { id: string }, packet: unknown): Promise<unknown>;
    outgoingEnqueueCombi(subs: readonly { clientId: string }[] | null | undefined, packet: unknown): Promise<unknown>;
    outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<{ brokerId?: string; brokerCounter?: number } | undefined>;
    outgoingStream(client: { id: string }): AsyncIterable<{ brokerId?: string; brokerCounter?: number }>;
    /** Closes the LevelDB handle (aedes.close() does not). */
    destroy(): Promise<void>;
  }

  export default function aedesPersistenceLevel(db: ClassicLevel<string, unknown> | ClassicLevel<Buffer, Buffer>): LevelPersistence;
}
