"""The runtimes an environment runs on: compose slots (app.py: start a release, health,
switch, stop, logs) and the swarm stack (stack.py renders it, swarm.py deploys and drives it).

Layer 4: may import the layers below (core, server, steps, edge).
"""
