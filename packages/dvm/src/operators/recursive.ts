/** Placeholder: the recursive operator module (registered from operators/index.ts) is being written. */
export {};
