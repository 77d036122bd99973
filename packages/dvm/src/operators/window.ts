/** Placeholder: the window operator module (registered from operators/index.ts) is being written. */
export {};
