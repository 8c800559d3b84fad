"""``clusterous validate``: ok lines, located problems, --show, and fuzzed files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusterous.cli.main import cli

COMPAT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "compat" / "clusterous-1.0"

NATIVE_PROFILE = """\
name: fuzzy
provider: local
controller: {type: small}
spot: false
node_groups:
  master: {count: 1}
  worker: {type: "c5.${size}", count: $workers, spot: yes}
shared_volume: {size: 10}
max_hours: 2.5
environment_file: app-env.yml
parameters:
  size: large
  workers: 2
"""

APP_ENV = """\
name: app
environment:
  copy: ["scripts/"]
  image:
    - {dockerfile: "image/", image_name: app}
  components:
    web:
      machine: master
      image: registry:5000/app
      cmd: ["python", "-m", "http.server", "8080"]
      ports: "8080, 2000:8000"
      memory: 512m
      environment: {MODE: demo}
    worker:
      machine: worker
      image: registry:5000/app
      depends: web
      cpu: 0.25
      count: auto
      attach_volume: no
  expose_tunnel:
    service: 8080:web:8080
    message: "Open {url} (local port {port})"
"""


@pytest.fixture(scope="module")
def files() -> Iterator[Path]:
    """The Clusterous 1.0 files and our own examples, side by side in one directory."""
    if not COMPAT_DIR.is_dir():
        message = f"the Clusterous 1.0 files are missing: {COMPAT_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for path in COMPAT_DIR.glob("*.yml"):
            shutil.copy(path, root / path.name)
        (root / "native-profile.yml").write_text(NATIVE_PROFILE)
        (root / "app-env.yml").write_text(APP_ENV)
        yield root


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["validate", *args])


def test_valid_files_print_one_ok_line_each_and_exit_0(files: Path) -> None:
    result = run(str(files / "basic-python-env.yml"), str(files / "basic-python-cluster.yml"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{files / 'basic-python-env.yml'}: ok (environment file 'basic-python': 2 components)",
        f"{files / 'basic-python-cluster.yml'}: ok (cluster profile 'basiccluster': "
        "master 1 x t2.micro, worker 1 x t2.micro)",
    ]
    assert result.stderr == ""


def test_every_clusterous_1_file_but_the_template_is_valid(files: Path) -> None:
    paths = sorted(str(p) for p in files.glob("*.yml") if p.name != "mycluster.yml")
    result = run(*paths)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(paths)


def test_the_template_fails_with_exit_2_naming_cluster_name(files: Path) -> None:
    path = files / "mycluster.yml"
    result = run(str(path))
    assert result.exit_code == 2
    assert re.search(rf"^(Error: )?{re.escape(str(path))}:1: cluster_name: ", result.stderr, re.M)
    assert "Traceback" not in result.output


def test_a_profile_is_validated_together_with_its_environment_file(files: Path) -> None:
    result = run(str(files / "spark-cluster.yml"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(
        "ok (cluster profile 'sparkcluster': master 1 x c3.large, spark 2 x c3.large; "
        "environment file 'ipython-spark': 1 component, node groups master, spark)"
    )


def test_good_and_bad_files_together_report_all_and_exit_2(files: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad-env.yml"
    bad.write_text(
        "name: x\nenvironment:\n  components:\n    a: {machine: master, image: i, cpu: fast}\n"
    )
    missing = tmp_path / "missing.yml"
    result = run(str(files / "ipython-env.yml"), str(bad), str(missing))
    assert result.exit_code == 2
    assert (
        "ipython-env.yml: ok (environment file 'ipython-parallel': 3 components)" in result.stdout
    )
    assert (
        f'{bad}:4: environment.components.a.cpu: expected a number > 0 or "auto", got "fast"'
        in result.stderr
    )
    assert f"{missing}: no such file" in result.stderr


def test_an_undecidable_file_can_be_given_a_kind(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("name: lonely\n")
    undecided = run(str(path))
    assert undecided.exit_code == 2
    assert (
        "cannot tell whether this is a cluster profile or an environment file" in undecided.stderr
    )
    forced = run("--kind", "environment", str(path))
    assert forced.exit_code == 2
    assert f"{path}:1: an environment file needs an 'environment:' section" in forced.stderr


def test_show_prints_the_normalised_profile_and_environment(files: Path) -> None:
    result = run("--show", str(files / "native-profile.yml"))
    assert result.exit_code == 0, result.output
    first, rest = result.stdout.split("\n", 1)
    assert first.endswith(
        "ok (cluster profile 'fuzzy': master 1 x default type, worker 2 x c5.large; "
        "environment file 'app': 2 components)"
    )
    shown = yaml.safe_load(rest)
    assert shown["cluster_profile"]["node_groups"]["worker"] == {
        "type": "c5.large",
        "count": 2,
        "spot": True,
        "spot_fallback": "on-demand",
    }
    assert shown["cluster_profile"]["environment_file"] == str(files / "app-env.yml")
    web = shown["environment"]["components"]["web"]
    assert web["ports"] == [{"host": 8080, "container": 8080}, {"host": 2000, "container": 8000}]
    assert web["memory"] == 512 * 1024**2
    assert shown["environment"]["components"]["worker"]["attach_volume"] is False
    assert shown["environment"]["tunnels"] == [
        {
            "local_port": 8080,
            "component": "web",
            "remote_port": 8080,
            "message": "Open {url} (local port {port})",
        }
    ]


def test_validate_requires_a_file() -> None:
    result = run()
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_validate_does_not_import_cloud_ssh_or_docker_libraries() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom clusterous.cli.main import cli\n"
        "CliRunner().invoke(cli, ['validate', '--help'])\n"
        "import clusterous.cli.validate_cmd\n"
        "heavy = {'boto3', 'botocore', 'paramiko', 'docker', 'sshtunnel'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----- fuzzing: mutated valid files never crash the command -----------------------------

JUNK_VALUES = [
    "[",
    "{a: b}",
    "- x",
    "!!binary AAAA",
    "*alias",
    "&a x",
    "''",
    "~",
    "-1",
    "1e999",
    "é",
    "\t",
]


def mutate(text: str, data: st.DataObject) -> bytes:
    """One random damage to a YAML file, of the kinds users and editors make."""
    lines = text.splitlines(keepends=True) or ["\n"]
    kind = data.draw(
        st.sampled_from(["delete", "duplicate", "retype", "junk_key", "bytes", "truncate"])
    )
    at = data.draw(st.integers(0, len(lines) - 1))
    if kind == "delete":
        del lines[at]
    elif kind == "duplicate":
        lines.insert(at, lines[at])
    elif kind == "retype":
        key = lines[at].split(":", 1)[0]
        lines[at] = f"{key}: {data.draw(st.sampled_from(JUNK_VALUES))}\n"
    elif kind == "junk_key":
        indent = len(lines[at]) - len(lines[at].lstrip(" "))
        name = data.draw(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
        lines.insert(at, " " * indent + f"{name}: {data.draw(st.sampled_from(JUNK_VALUES))}\n")
    raw = "".join(lines).encode()
    if kind == "bytes":
        where = data.draw(st.integers(0, len(raw)))
        raw = raw[:where] + data.draw(st.binary(min_size=1, max_size=8)) + raw[where:]
    elif kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    return raw


FUZZ_BASES = [
    *sorted(p.name for p in COMPAT_DIR.glob("*.yml")),
    "native-profile.yml",
    "app-env.yml",
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(base=st.sampled_from(FUZZ_BASES), data=st.data())
def test_mutated_files_give_located_problems_never_a_traceback(
    files: Path, base: str, data: st.DataObject
) -> None:
    mutated = mutate((files / base).read_text(), data)
    with tempfile.TemporaryDirectory(dir=files) as directory:
        path = Path(directory) / base
        path.write_bytes(mutated)
        for other in ("spark-env.yml", "app-env.yml"):  # profiles name these beside them
            if other != base:
                shutil.copy(files / other, Path(directory) / other)
        result = run(str(path))
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        located = rf"^(Error: )?{re.escape(str(Path(directory)))}/[\w.-]+(:\d+)?: \S"
        assert re.search(located, result.stderr, re.M), result.stderr
