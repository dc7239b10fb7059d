// pause on Kubernetes: refused before the drill starts. Freezing a container's process needs its PID namespace: a
// node agent (privileged), or an ephemeral container, which cannot stop the container's PID 1 from inside.
export const pauseUnsupported = {
  unsupported:
    'freezing a process needs a privileged agent on the node (SIGSTOP, or the cgroup freezer), which this chart does not run; from inside the pod, its PID 1 ignores SIGSTOP. Run this drill on the local runtime (--platform local).',
};
