"""Operating API keys: list and revoke from the CLI, atomic owner-only writes with no lost
key when operators write at once, and a server that keeps its last good key set (or
answers 503, never 500) while the key file is unreadable."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import KeyStore, KeysUnavailableError
from locator.config import Settings
from locator_cli.main import main as cli_main

STATION = "erl-driver-home-01"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_lists_and_revokes_keys_and_the_server_sees_it_at_once(
    writable_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    art = str(writable_artifact)
    keys = {}
    for name in ("ops team", "planner"):
        code, out, _ = _cli(capsys, "keys", "create", "--artifact", art, "--name", name)
        assert code == 0
        keys[name] = out.strip()
    code, out, _ = _cli(capsys, "keys", "list", "--artifact", art, "--json")
    assert code == 0
    listed = json.loads(out)["keys"]
    assert sorted(k["name"] for k in listed) == ["ops team", "planner"]
    for key in keys.values():
        assert key.split("_", 2)[2] not in out  # never a secret
    code, table, _ = _cli(capsys, "keys", "list", "--artifact", art)
    assert code == 0 and "planner" in table and "key_id" in table.splitlines()[0]

    app = create_app(Settings(artifact_dir=writable_artifact, rate_limit_enabled=False))
    with TestClient(app) as c:

        def patch(key: str) -> int:
            r = c.patch(f"/v1/stations/{STATION}", json={"notes": "k"}, headers={"X-API-Key": key})
            return r.status_code

        assert patch(keys["planner"]) == 200
        planner_id = keys["planner"].split("_")[1]
        code, _, err = _cli(capsys, "keys", "revoke", planner_id, "--artifact", art)
        assert code == 0 and planner_id in err
        assert patch(keys["planner"]) == 403  # the running server refuses it now
        assert patch(keys["ops team"]) == 200
        # a whole key is accepted too; an unknown id is an error
        code, _, _ = _cli(capsys, "keys", "revoke", keys["ops team"], "--artifact", art)
        assert code == 0
        assert patch(keys["ops team"]) == 403
    code, _, err = _cli(capsys, "keys", "revoke", "0badc0de", "--artifact", art)
    assert code == 1 and "no key" in err


def test_writes_are_owner_only_and_leave_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "api_keys.json"
    stale = tmp_path / "api_keys.tmp"  # left by an older version, world-readable
    stale.write_text("{}")
    stale.chmod(0o644)
    path.write_text('{"keys": []}')
    path.chmod(0o644)
    store = KeyStore(path)
    store.create("ops")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    store.create("ops2")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    leftovers = {p.name for p in tmp_path.iterdir()} - {"api_keys.json", "api_keys.json.lock"}
    assert leftovers == {"api_keys.tmp"}  # ours are gone; the stale one was never used
    assert sorted(r.name for r in KeyStore(path).records()) == ["ops", "ops2"]


def test_operators_writing_at_once_lose_no_key(tmp_path: Path) -> None:
    path = tmp_path / "api_keys.json"
    barrier = threading.Barrier(8)
    created: list[str] = []
    revoked = KeyStore(path).create("to-revoke").split("_")[1]

    def work(i: int) -> None:
        store = KeyStore(path)  # one per "operator": nothing shared but the file
        barrier.wait()
        created.append(store.create(f"op{i}").split("_")[1])
        if i == 0:
            assert store.revoke(revoked) is not None

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = {r.key_id for r in KeyStore(path).records()}
    assert ids == set(created)


def test_an_unreadable_key_file_keeps_the_last_good_set(writer: TestClient) -> None:
    store: KeyStore = writer.app.state.keys  # type: ignore[attr-defined]
    key = writer.key  # type: ignore[attr-defined]
    headers = {"X-API-Key": key}
    assert writer.patch(f"/v1/stations/{STATION}", json={"notes": "a"}, headers=headers).is_success
    good = store.path.read_text()
    for bad in (good[: len(good) // 2], "", "[1, 2]", '{"keys": [{"key_id": 1}]}'):
        store.path.write_text(bad)  # an operator's editor, half way through a save
        r = writer.patch(f"/v1/stations/{STATION}", json={"notes": "b"}, headers=headers)
        assert r.status_code == 200, (bad, r.text)
        assert writer.get("/v1/admin/keys", headers=headers).status_code == 200
    store.path.write_text(good)
    r = writer.patch(f"/v1/stations/{STATION}", json={"notes": "c"}, headers=headers)
    assert r.status_code == 200


def test_a_server_that_never_read_its_keys_answers_503(
    writable_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(artifact_dir=writable_artifact, rate_limit_enabled=False)
    settings.keys_path().write_text('{"keys": [')
    with pytest.raises(KeysUnavailableError):
        KeyStore(settings.keys_path()).records()
    with TestClient(create_app(settings)) as c:
        r = c.patch(
            f"/v1/stations/{STATION}", json={"notes": "x"}, headers={"X-API-Key": "lk_00_x"}
        )
        assert (r.status_code, r.json()["code"]) == (503, "keys_unavailable")
        assert r.headers["retry-after"] == "30"
    # the CLI refuses to overwrite a key file it cannot read (that would drop every key)
    code, _, err = _cli(
        capsys, "keys", "create", "--artifact", str(writable_artifact), "--name", "x"
    )
    assert code == 1 and "cannot read" in err
    assert settings.keys_path().read_text() == '{"keys": ['
    assert not os.path.exists(str(settings.keys_path()) + ".tmp")
