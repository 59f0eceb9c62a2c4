#!/bin/sh
# The image's entrypoint: the s2sr command line.
#   IMAGE run PRODUCT -o DEST …   IMAGE --version     → s2sr run PRODUCT -o DEST …, s2sr --version
#   IMAGE s2sr run …              IMAGE sh -c '…'     → run as given (a command found on PATH)
# The second form is what CWL runners do: they append the tool's whole command line
# (baseCommand `s2sr run`) to the image's entrypoint. Kubernetes `args:` use the first form.
if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ] && command -v "$1" >/dev/null 2>&1; then
    exec "$@"
fi
exec s2sr "$@"
