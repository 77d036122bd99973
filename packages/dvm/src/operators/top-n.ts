/** Placeholder: the top-n operator module (registered from operators/index.ts) is being written. */
export {};
