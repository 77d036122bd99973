/** Placeholder: the outer-join operator module (registered from operators/index.ts) is being written. */
export {};
