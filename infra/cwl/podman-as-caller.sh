#!/bin/sh
# podman for `cwltool --user-space-docker-cmd`: containers run as the calling user, as cwltool
# itself does with docker (`--user=UID:GID`). Without it the image's own user (uid 1000) cannot
# write the output folder cwltool made for the caller (e.g. root's, as in a CI container).
#   cwltool --user-space-docker-cmd infra/cwl/podman-as-caller.sh infra/cwl/s2sr.cwl#s2sr job.yml
# PODMAN: the podman command, with options if needed (e.g. "podman --root DIR --runroot DIR").
if [ "$1" = run ]; then
    shift
    exec ${PODMAN:-podman} run --user "$(id -u):$(id -g)" "$@"
fi
exec ${PODMAN:-podman} "$@"
