"""Configuration profiles: which provider, which account, which keys.

``$CLUSTEROUS_HOME/config.yml`` holds named profiles and the name of the
current one. A built-in ``local`` profile (the user's own Docker engine) always
exists and needs no setup, so a fresh install works at once; ``clusterous
setup`` adds AWS profiles and makes the new one current.

The file is small and hand-editable, so this module checks it by hand and
names the line of any mistake. It is imported by the CLI on every run: it must
stay light (no boto3, no pydantic), and it is written atomically with mode 0600
under a file lock, because it may hold AWS secret keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from clusterous.errors import InputError, NotFoundError
from clusterous.home import Home, atomic_write, file_lock

Provider = Literal["local", "aws"]
PROVIDERS: tuple[Provider, ...] = ("local", "aws")
LOCAL = "local"
DEFAULT_BASE_IMAGE = "debian:bookworm-slim"
DEFAULT_LOCAL_INSTANCE_TYPE = "small"
DEFAULT_AWS_LEASE_HOURS = 8.0
PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SECRET_FIELDS = frozenset({"secret_access_key"})
PARTLY_SECRET_FIELDS = frozenset({"access_key_id"})
FIX_BY_HAND = "correct it in an editor, or move the file away and run 'clusterous setup' again"


@dataclass(frozen=True)
class Profile:
    """One way of getting machines: the local Docker engine or one AWS account+region."""

    name: str
    provider: Provider
    # aws
    region: str | None = None
    aws_profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    key_pair: str | None = None
    key_file: str | None = None
    bucket: str | None = None
    allowed_cidr: str | None = None
    # local (default_instance_type may also be set on aws profiles)
    base_image: str | None = None
    default_instance_type: str | None = None
    # the lease of its clusters, in hours ("0": none); unset: 8 on AWS, none on local
    max_hours: str | None = None

    @property
    def lease_hours(self) -> float | None:
        if self.max_hours is not None:
            return float(self.max_hours) or None
        return DEFAULT_AWS_LEASE_HOURS if self.is_aws else None

    @property
    def is_aws(self) -> bool:
        return self.provider == "aws"

    @property
    def key_path(self) -> Path | None:
        return Path(self.key_file).expanduser() if self.key_file else None

    def settings(self) -> dict[str, str]:
        """Every field that is set, except the name (the key it is stored under)."""
        return {
            f.name: value
            for f in fields(self)
            if f.name != "name" and (value := getattr(self, f.name)) is not None
        }

    def public_view(self) -> dict[str, str]:
        """The settings with secrets masked, fit for a terminal or a bug report."""
        view = {"name": self.name, **self.settings()}
        for key in SECRET_FIELDS & view.keys():
            view[key] = mask_secret(view[key])
        for key in PARTLY_SECRET_FIELDS & view.keys():
            view[key] = mask_partly(view[key])
        return view


BUILTIN_LOCAL = Profile(
    name=LOCAL,
    provider="local",
    base_image=DEFAULT_BASE_IMAGE,
    default_instance_type=DEFAULT_LOCAL_INSTANCE_TYPE,
)


def mask_secret(value: str) -> str:
    """``wJalrXUtnFEMI/K7MDENG`` -> ``****DENG``: enough to tell two keys apart."""
    return "****" + value[-4:] if len(value) > 8 else "****"


def mask_partly(value: str) -> str:
    """``AKIAIOSFODNN7EXAMPLE`` -> ``AKIA****MPLE``."""
    return f"{value[:4]}****{value[-4:]}" if len(value) > 8 else "****"


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME_RE.fullmatch(name):
        raise InputError(
            f"invalid profile name {name!r}",
            "use up to 64 letters, digits, dots, dashes and underscores, starting with a "
            "letter or digit",
            "for example: --profile-name aws-sydney",
        )
    return name


@dataclass(frozen=True)
class Config:
    """The whole of config.yml; always contains the built-in ``local`` profile."""

    current_profile: str = LOCAL
    profiles: Mapping[str, Profile] = field(default_factory=lambda: {LOCAL: BUILTIN_LOCAL})

    def __post_init__(self) -> None:
        if LOCAL not in self.profiles:
            object.__setattr__(self, "profiles", {LOCAL: BUILTIN_LOCAL, **self.profiles})

    def names(self) -> list[str]:
        return sorted(self.profiles)

    def current(self) -> Profile:
        return self.get(self.current_profile)

    def get(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise NotFoundError(
                f"no profile named {name!r}",
                f"known profiles: {', '.join(self.names())}",
                f"run 'clusterous setup --profile-name {name}' to create it, "
                "or pick one with 'clusterous profile use NAME'",
            ) from None

    def with_profile(self, profile: Profile, make_current: bool = False) -> Config:
        """Add or replace ``profile`` (the built-in local may be customised, not retyped)."""
        if profile.name == LOCAL and profile.provider != "local":
            raise InputError(
                "the profile name 'local' is reserved for your own Docker engine",
                fix="choose another name, for example --profile-name aws",
            )
        profiles = {**self.profiles, profile.name: profile}
        current = profile.name if make_current else self.current_profile
        return Config(current_profile=current, profiles=profiles)

    def use(self, name: str) -> Config:
        self.get(name)
        return replace(self, current_profile=name)

    def without(self, name: str) -> Config:
        self.get(name)
        if name == LOCAL:
            raise InputError(
                "the built-in 'local' profile cannot be removed",
                "it needs no setup and is always available",
            )
        if name == self.current_profile:
            raise InputError(
                f"profile {name!r} is the current profile and cannot be removed",
                fix="switch first, for example 'clusterous profile use local', then remove it",
            )
        return replace(self, profiles={k: v for k, v in self.profiles.items() if k != name})


# ---------------------------------------------------------------- public API


def load_config(home: Home) -> Config:
    """Read config.yml; a missing file means only the built-in local profile."""
    path = home.config_path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as problem:
        raise InputError(f"cannot read {path}", problem.strerror or str(problem)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = raw[: problem.start].count(b"\n") + 1
        why = f"not UTF-8 text (byte {problem.start} is {raw[problem.start]:#04x})"
        raise _config_error(path, line, "", why) from None
    return parse_config(text, path)


def save_config(home: Home, config: Config) -> None:
    """Replace config.yml with ``config`` (atomic, mode 0600, under the lock)."""
    with file_lock(_lock_path(home)):
        _write(home, config)


def update_config(home: Home, change: Callable[[Config], Config]) -> Config:
    """Read, change and write config.yml as one step no other CLI can interleave with."""
    with file_lock(_lock_path(home)):
        config = change(load_config(home))
        _write(home, config)
    return config


def resolve_profile(home: Home, override: str | None) -> Profile:
    """The profile a command works with: ``--profile NAME`` if given, else the current one."""
    config = load_config(home)
    return config.get(override) if override else config.current()


# ---------------------------------------------------------------- writing


def _lock_path(home: Home) -> Path:
    return home.root / ".config.yml.lock"


def _write(home: Home, config: Config) -> None:
    home.ensure()
    atomic_write(home.config_path, render_config(config), mode=0o600)


def render_config(config: Config) -> str:
    profiles = {
        name: profile.settings()
        for name, profile in sorted(config.profiles.items())
        if profile != BUILTIN_LOCAL
    }
    document = {"current_profile": config.current_profile, "profiles": profiles}
    header = "# clusterous configuration; written by 'clusterous setup' and 'clusterous profile'\n"
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


# ---------------------------------------------------------------- reading


class _ConfigProblem(Exception):
    def __init__(self, where: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def parse_config(text: str, path: Path) -> Config:
    """Turn the text of config.yml into a Config, or an InputError naming file and line."""
    tree, document = _yaml(text, path)
    if document is None:
        raise InputError(
            f"{path}: the file is empty",
            "it holds no settings at all (only blank lines or comments), so every profile "
            "but the built-in local one would be lost",
            "restore it from a backup; or, to start again with the local profile only, "
            f"delete it ('rm {path}') and run 'clusterous setup' to add AWS profiles",
        )
    try:
        return _config_from_document(document)
    except _ConfigProblem as problem:
        line = _line_of(tree, problem.where)
        raise _config_error(path, line, ".".join(problem.where), problem.message) from None


def _yaml(text: str, path: Path) -> tuple[yaml.Node | None, Any]:
    """The YAML tree (for line numbers) and the document, or an error naming file and line."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        line = mark.line + 1 if mark else 0
        raise _config_error(path, line, "", f"not valid YAML: {problem.problem}") from None
    except yaml.YAMLError as problem:  # e.g. a control character: a ReaderError, unmarked
        raise _config_error(path, 0, "", f"not valid YAML: {problem}") from None


def _config_error(path: Path, line: int, where: str, message: str) -> InputError:
    location = f"{path}:{line}" if line else str(path)
    detail = f"{where}: {message}" if where else message
    return InputError(f"{location}: {detail}", fix=FIX_BY_HAND)


def _config_from_document(document: Any) -> Config:
    if not isinstance(document, dict):
        raise _ConfigProblem((), "expected a mapping with 'current_profile' and 'profiles'")
    _reject_unknown(document, {"current_profile", "profiles"}, ())
    raw_profiles = document.get("profiles") or {}
    if not isinstance(raw_profiles, dict):
        raise _ConfigProblem(("profiles",), "expected a mapping of profile name to settings")
    profiles = {str(name): _profile_from(str(name), raw) for name, raw in raw_profiles.items()}
    config = Config(profiles=profiles)
    current = document.get("current_profile", LOCAL)
    if not isinstance(current, str) or current not in config.profiles:
        raise _ConfigProblem(
            ("current_profile",),
            f"names no known profile (known: {', '.join(config.names())})",
        )
    return replace(config, current_profile=current)


PROFILE_KEYS = frozenset(f.name for f in fields(Profile)) - {"name"}


def _profile_from(name: str, raw: Any) -> Profile:
    where = ("profiles", name)
    if not PROFILE_NAME_RE.fullmatch(name):
        raise _ConfigProblem(where, "invalid profile name (letters, digits, '.', '-', '_')")
    if not isinstance(raw, dict):
        raise _ConfigProblem(where, "expected a mapping of settings")
    _reject_unknown(raw, PROFILE_KEYS, where)
    for key, value in raw.items():
        if not isinstance(value, str):
            raise _ConfigProblem((*where, str(key)), f"expected text, got {value!r}")
    provider = raw.get("provider", LOCAL if name == LOCAL else None)
    if provider not in PROVIDERS:
        raise _ConfigProblem((*where, "provider"), f"expected 'local' or 'aws', got {provider!r}")
    if name == LOCAL and provider != "local":
        raise _ConfigProblem((*where, "provider"), "the 'local' profile must use provider local")
    _check_max_hours(raw.get("max_hours"), where)
    settings = {**raw, "provider": provider}
    if provider == "local":
        settings.setdefault("base_image", DEFAULT_BASE_IMAGE)
        settings.setdefault("default_instance_type", DEFAULT_LOCAL_INSTANCE_TYPE)
    return Profile(name=name, **settings)


def _check_max_hours(value: str | None, where: tuple[str, ...]) -> None:
    try:
        hours = float(value) if value is not None else 0.0
    except ValueError:
        hours = -1.0
    if not 0 <= hours < float("inf"):
        raise _ConfigProblem((*where, "max_hours"), f"expected hours, 0 or more, got {value!r}")


def _reject_unknown(mapping: dict[Any, Any], known: frozenset[str] | set[str], where: Any) -> None:
    for key in mapping:
        if key not in known:
            expected = ", ".join(sorted(known))
            raise _ConfigProblem(
                (*where, str(key)), f"unknown setting (expected one of: {expected})"
            )


def _line_of(tree: yaml.Node | None, where: tuple[str, ...]) -> int:
    """The 1-based line of the deepest node along ``where`` that exists in the YAML tree."""
    node = tree
    line = node.start_mark.line + 1 if node is not None else 0
    for key in where:
        child = _child(node, key)
        if child is None:
            break
        node, line = child
    return line


def _child(node: yaml.Node | None, key: str) -> tuple[yaml.Node, int] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in _pairs(node):
        if key_node.value == key:
            return value_node, key_node.start_mark.line + 1
    return None


def _pairs(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    yield from node.value
