"""Swarm hands a service's env file over as a Docker secret (ops/runtimes/stack.py): print it as shell
`export` lines for docker/start to eval, the way Compose reads an env_file (KEY=value lines, no
quoting, `#` comments), leaving alone what the service's environment already sets (the
matrix's values win, as Compose's `environment` wins over its `env_file`)."""

import os
import re
import shlex
import sys

for line in open(sys.argv[1], encoding="utf-8").read().splitlines():  # noqa: SIM115 - short-lived
    line = line.strip()
    if not line or line.startswith("#") or "=" not in line:
        continue
    key, _, value = line.partition("=")
    key = key.strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) and key not in os.environ:
        print(f"export {key}={shlex.quote(value.strip())}")
