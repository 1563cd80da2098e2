/** A copy of a snapshot, as the store gives it back (not sharing memory with the original). */
export const copyOf = (b: Uint8Array): Buffer => Buffer.from(b);
