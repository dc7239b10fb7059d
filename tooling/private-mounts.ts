// Folders of our own over system folders, in a private mount namespace (the node's, buildah's), without hiding the
// folders those processes need when they happen to live under one of them: a clone in /tmp, a cache in /var/lib.

/** `path` is `dir` or under it. */
export const isWithin = (path: string, dir: string) => path === dir || path.startsWith(`${dir.replace(/\/$/, '')}/`);

/**
 * Shell lines for a private mount namespace: each `[folder, replacement]` bound over the folder, and each of `keep`
 * that a replacement would hide mounted back at its own path. A kept folder is first bound on a tmpfs at /mnt (in this
 * namespace only), since its own path is hidden once its parent is replaced; then moved back into place. Replacements
 * must lie in a kept folder or outside every replaced one.
 */
export function shadowKeeping(replacements: Array<[folder: string, replacement: string]>, keep: string[]): string {
  const hidden = keep.filter((k) => replacements.some(([folder]) => isWithin(k, folder)));
  const outermost = [...new Set(hidden)].filter((k, _, all) => !all.some((other) => other !== k && isWithin(k, other)));
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // A replacement inside a kept folder is bound from that folder's copy at /mnt, which no earlier replacement hides.
  const reachable = (path: string) => {
    const i = outermost.findIndex((k) => isWithin(path, k));
    return i < 0 ? path : `/mnt/${i}${path.slice(outermost[i]!.length)}`;
  };
  return [
    ...(outermost.length ? ['mount -t tmpfs -o size=64k,mode=0700 faultline-keep /mnt'] : []),
    ...outermost.flatMap((k, i) => [`mkdir /mnt/${i}`, `mount --rbind ${q(k)} /mnt/${i}`]),
    ...replacements.map(([folder, replacement]) => `mount --bind ${q(reachable(replacement))} ${q(folder)}`),
    ...outermost.flatMap((k, i) => [`mkdir -p ${q(k)}`, `mount --move /mnt/${i} ${q(k)}`]),
    ...(outermost.length ? ['umount /mnt'] : []),
  ].join('\n');
}
