"""Docker HEALTHCHECK for every role: web answers /healthz; worker and beat are alive if PID 1 is."""

import os
import sys
import urllib.request

# PID 1 is `tini -- /app/docker/start ROLE …`: only the web role has an HTTP check
with open("/proc/1/cmdline", "rb") as cmdline:
    arguments = cmdline.read().split(b"\0")
role = (
    arguments[arguments.index(b"/app/docker/start") + 1]
    if b"/app/docker/start" in arguments
    else b""
)
if role not in (b"web", b""):
    sys.exit(0)
host = os.environ.get("ALETHEIA_HOST", "localhost").split(":")[0]
request = urllib.request.Request(
    f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz", headers={"Host": host}
)
try:
    with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 - fixed local URL
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:
    print(exc)
    sys.exit(1)
