/** Placeholder: the scalar-subquery operator module (registered from operators/index.ts) is being written. */
export {};
