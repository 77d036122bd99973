/** Placeholder: the set-op operator module (registered from operators/index.ts) is being written. */
export {};
