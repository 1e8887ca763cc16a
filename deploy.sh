#!/bin/sh
# ./deploy.sh ENV [REF] [--dry-run] — see docs/deployment.md. Standard library python3 only.
cd "$(dirname "$0")" && exec python3 -m ops deploy "$@"
