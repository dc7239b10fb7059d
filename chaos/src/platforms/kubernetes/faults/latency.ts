// latency on Kubernetes: refused before the drill starts. A NetworkPolicy can allow or refuse traffic, not delay it;
// delaying packets needs an agent with NET_ADMIN in each pod's network namespace, which this chart does not run.
export const latencyUnsupported = {
  unsupported:
    'a NetworkPolicy can only allow or refuse traffic, not delay it. Run this drill on the local runtime (--platform local), or add the delay with Chaos Mesh (NetworkChaos, action: delay).',
};
