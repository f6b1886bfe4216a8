#!/bin/bash
# image.sh OUT -- the images the engine tests run, made here from Debian's
# busybox-static (no registry, no network):
#   OUT/rootfs/        a busybox root filesystem (users root, user 1000)
#   OUT/busybox.tar    `docker save` archive of busybox:latest (Cmd sh)
#   OUT/pause.tar      `docker save` archive of localhost/veil-e2e/pause:1,
#                      the CRI sandbox image: the same layer, running
#                      `sleep infinity` (kubelet's pause only waits too)
# Both archives load with `docker load`, `podman load` and `ctr image import`.
set -euo pipefail
OUT=${1:?usage: image.sh OUTDIR}
BB=/bin/busybox
if ! "$BB" --list >/dev/null 2>&1 || ldd "$BB" >/dev/null 2>&1; then
  echo "image.sh: $BB is not a static busybox (apt-get install busybox-static)" >&2
  exit 1
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
R=$OUT/rootfs
rm -rf "$R"
mkdir -p "$R"/{bin,dev,proc,sys,etc,tmp,root,home/user,run,var/tmp,data}
chmod 1777 "$R/tmp" "$R/var/tmp"
cp "$BB" "$R/bin/busybox"
for applet in $("$BB" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$R/bin/$applet"
done
ln -s bin "$R/sbin"
mkdir -p "$R/usr" && ln -s ../bin "$R/usr/bin" && ln -s ../bin "$R/usr/sbin"
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'user:x:1000:1000:user:/home/user:/bin/sh' \
  'nobody:x:65534:65534:nobody:/:/bin/false' >"$R/etc/passwd"
printf '%s\n' 'root:x:0:' 'user:x:1000:' 'nogroup:x:65534:' >"$R/etc/group"
chown 1000:1000 "$R/home/user"
: >"$R/etc/hosts"
: >"$R/etc/resolv.conf"

S=$OUT/.stage
rm -rf "$S"
mkdir -p "$S"
tar --numeric-owner --sort=name --mtime=@0 -C "$R" -cf "$S/layer.tar" .
DIFF=$(sha256sum "$S/layer.tar" | cut -d' ' -f1)
mkdir "$S/$DIFF"
mv "$S/layer.tar" "$S/$DIFF/layer.tar"
echo 1.0 >"$S/$DIFF/VERSION"

# archive NAME TAG PROCESS_JSON -- one `docker save` archive
archive() {
  local name=$1 tag=$2 process=$3 cfg sum
  cfg='{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",'
  cfg+='"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/",'$process'},'
  cfg+='"rootfs":{"type":"layers","diff_ids":["sha256:'$DIFF'"]},'
  cfg+='"history":[{"created":"2024-01-01T00:00:00Z","created_by":"tests/engines/image.sh: busybox-static"}]}'
  sum=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
  printf '%s' "$cfg" >"$S/$sum.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$sum" "$tag" "$DIFF" >"$S/manifest.json"
  printf '{"%s":{"%s":"%s"}}' "${tag%:*}" "${tag##*:}" "$DIFF" >"$S/repositories"
  echo "{\"id\":\"$DIFF\"}" >"$S/$DIFF/json"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$S" -cf "$OUT/$name" \
    manifest.json repositories "$sum.json" "$DIFF"
  rm "$S/$sum.json"
}
archive busybox.tar busybox:latest '"Cmd":["sh"]'
archive pause.tar localhost/veil-e2e/pause:1 '"Entrypoint":["sleep","infinity"]'
rm -rf "$S"
