#!/usr/bin/env bash
# Make sure ngspice and libngspice0 (Debian) are present. Installs them when we are root and they are
# missing; otherwise prints what to install and returns 0 (only the SPICE notebooks/tests need them).
set -u
have_lib() { ldconfig -p 2>/dev/null | grep -q 'libngspice\.so' || ls /usr/lib/*/libngspice.so* >/dev/null 2>&1; }
if command -v ngspice >/dev/null 2>&1 && have_lib; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_ngspice: installing ngspice and libngspice0 with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq ngspice libngspice0 >/dev/null && exit 0
  echo "ensure_ngspice: apt-get install ngspice libngspice0 failed" >&2
  exit 1
fi
echo "ensure_ngspice: ngspice / libngspice0 are missing and we are not root." >&2
echo "  Install them with: sudo apt-get install ngspice libngspice0   (the SPICE parts need them)" >&2
exit 0
