"""The server's facts: the environment matrix (environments.toml), server settings
(server.env), env files, the live web slot, the compose files and docs table rendered from the
matrix (`python3 -m ops generate`), and the `Target` (row + env file + settings) every command gets.

Layer 1: may import ops.core.
"""
