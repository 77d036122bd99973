/** Placeholder: the distinct operator module (registered from operators/index.ts) is being written. */
export {};
