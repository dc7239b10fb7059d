// Versions the product itself depends on at run time, on every platform.

/** k6 runs every load and flood: the local runtime's binary and the Kubernetes Job's image are this version. */
export const k6Version = 'v1.8.1';
