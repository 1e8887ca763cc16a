"""The command line (`python3 -m ops`, main.py) and the dev auto-deploy's forced SSH command
(ssh_entry.py): parse, resolve the target once, dispatch, turn refusals into exit 2.

Layer 9 (top): may import every other package; nothing imports it.
"""
