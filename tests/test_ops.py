from ops import compose, environments
from ops.__main__ import main


def test_compose_overlays_match_the_matrix() -> None:
    for environment in environments.server_environments().values():
        assert compose.overlay_path(environment).read_text() == compose.render_overlay(
            environment
        ), (
            f"{compose.overlay_path(environment).name} drifted from environments.toml: "
            "run python3 -m ops compose-overlays"
        )
    assert main(["compose-overlays", "--check"]) == 0


def test_overlays_carry_each_fact_of_their_row() -> None:
    for environment in environments.server_environments().values():
        text = compose.render_overlay(environment)
        assert f"ALETHEIA_HOST: {environment.host}" in text
        assert f'REDIS_CACHE_DB: "{environment.redis_cache_db}"' in text
        assert f'REDIS_BROKER_DB: "{environment.redis_broker_db}"' in text
        assert f"mem_limit: {environment.web_memory.lower()}" in text
        assert environment.env_file in text
