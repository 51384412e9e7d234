"""`synth2real <command>`: dispatch, and a user error (no checkout) as one line."""

from __future__ import annotations

from synth2real import cli


def test_usage_lists_every_command(capsys):
    assert cli.main([]) == 2 and cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)


def test_unknown_command(capsys):
    assert cli.main(["nope"]) == 2
    assert "unknown command 'nope'" in capsys.readouterr().err


def test_outside_a_checkout_says_so_without_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["envs", "--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("synth2real envs: no synth2real checkout at or above")
    assert "Snakefile and uv.lock" in err and "Traceback" not in err
