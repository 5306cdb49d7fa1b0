"""The build configuration: a frozen dataclass tree loaded from TOML.

Every key has a type, a default and, where it matters, a set of valid values or a range
(field metadata). Loading checks all of it: an unknown key or a bad value raises
`ConfigError` naming the key and what is valid. `load_config(None)` gives the embedded
default, the digits example (`examples/digits/tinykit.toml`).

Paths in a config file (`data.path`, `teacher.model.custom`) are relative to the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import tomllib
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinykit.errors import ConfigError
from tinykit.paths import examples_dir

DATA_SOURCES = ("digits", "tfds", "image_folder", "audio_folder", "csv")
SPLITS = ("auto", "stratified", "grouped", "time")
CLASS_WEIGHTS = ("auto", "balanced", "none")
ARCHS = ("tiny_cnn", "ds_cnn", "mobilenet_v1", "resnet8", "mlp", "custom")
CLUSTER_INITS = ("kmeans++", "linear", "density")
DEPTHWISE_SCOPES = ("layer", "channel")
AUDIO_FEATURES = ("mfcc", "log_mel")
COLORS = ("grayscale", "rgb")


def _opt(default: Any, help: str, **rules: Any) -> Any:
    """A config field: `rules` may hold `choices`, `min`, `max`, `above` (exclusive min)."""
    return field(default=default, metadata={"help": help, **rules})


def _sub(cls: Callable[[], Any], help: str) -> Any:
    return field(default_factory=cls, metadata={"help": help})


@dataclass(frozen=True)
class AudioConfig:
    """How WAV clips become features (folders of WAV files and tfds speech_commands)."""

    sample_rate: int = _opt(16000, "sample rate in Hz clips are expected at", min=1000)
    clip_seconds: float = _opt(1.0, "clips are cut or zero-padded to this length", above=0)
    features: str = _opt("mfcc", "feature kind", choices=AUDIO_FEATURES)
    frame_ms: float = _opt(40.0, "analysis window in milliseconds", above=0)
    step_ms: float = _opt(20.0, "hop between windows in milliseconds", above=0)
    mel_bins: int = _opt(40, "mel filters", min=4, max=256)
    mfcc: int = _opt(10, "cepstral coefficients kept (features = 'mfcc')", min=1, max=256)


@dataclass(frozen=True)
class CsvConfig:
    """How a CSV of sensor samples becomes fixed-length windows."""

    label_column: str = _opt("label", "column with the class name of each row")
    group_column: str = _opt("", "column with a group id (a subject, a device); '' if none")
    time_column: str = _opt("", "column to order rows by; '' keeps file order")
    feature_columns: tuple[str, ...] = _opt((), "channels; empty takes every other column")
    window: int = _opt(64, "samples per window", min=2)
    stride: int = _opt(32, "samples between window starts", min=1)


@dataclass(frozen=True)
class DataConfig:
    source: str = _opt("digits", "where samples come from", choices=DATA_SOURCES)
    name: str = _opt("", "tensorflow-datasets name (source = 'tfds')")
    path: str = _opt("", "folder of class folders, a CSV file or folder, or the tfds data_dir")
    download: bool = _opt(False, "let tensorflow-datasets download and prepare missing data")
    split: str = _opt("auto", "how samples are split", choices=SPLITS)
    val_fraction: float = _opt(0.15, "share of samples for validation", above=0, max=0.5)
    test_fraction: float = _opt(0.2, "share of samples for the test split", above=0, max=0.5)
    max_samples: int = _opt(0, "keep at most this many samples (0: all)", min=0)
    image_size: tuple[int, ...] = _opt((), "[height, width] images are resized to; [] keeps")
    color: str = _opt("grayscale", "channels of images read from folders", choices=COLORS)
    group_pattern: str = _opt("", "regex on file names whose first group is the group id")
    class_weights: str = _opt("auto", "weigh rare classes up", choices=CLASS_WEIGHTS)
    drop_duplicates: bool = _opt(True, "drop val/test samples identical to a train sample")
    audio: AudioConfig = _sub(AudioConfig, "audio features")
    csv: CsvConfig = _sub(CsvConfig, "CSV sensor windows")


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation applied in the tf.data pipeline, to training batches only."""

    shift: int = _opt(0, "random translation of up to this many pixels or time steps", min=0)
    flip: bool = _opt(False, "random left-right flips (images only)")
    noise: float = _opt(0.0, "Gaussian noise, as a fraction of each channel's std", min=0)


@dataclass(frozen=True)
class ModelConfig:
    arch: str = _opt("tiny_cnn", "model from the zoo", choices=ARCHS)
    width: float = _opt(1.0, "width multiplier on every layer's channels", above=0, max=8)
    dropout: float = _opt(0.0, "dropout before the classifier", min=0, max=0.9)
    custom: str = _opt("", "'file.py:function' building the body when arch = 'custom'")


@dataclass(frozen=True)
class FitConfig:
    epochs: int = _opt(30, "passes over the training split", min=1)
    batch_size: int = _opt(64, "samples per step", min=1)
    learning_rate: float = _opt(3e-3, "Adam learning rate (cosine decay to 1% of it)", above=0)


@dataclass(frozen=True)
class DistillConfig:
    temperature: float = _opt(4.0, "softmax temperature of the soft targets", above=0)
    alpha: float = _opt(0.3, "weight of the hard-label loss; 1 - alpha on soft targets",
                        min=0, max=1)


@dataclass(frozen=True)
class TeacherConfig:
    model: ModelConfig = _sub(lambda: ModelConfig(width=2.0), "teacher architecture")
    train: FitConfig = _sub(FitConfig, "teacher training")


@dataclass(frozen=True)
class StudentConfig:
    model: ModelConfig = _sub(ModelConfig, "student architecture")
    train: FitConfig = _sub(FitConfig, "distillation training")
    distill: DistillConfig = _sub(DistillConfig, "knowledge distillation")


@dataclass(frozen=True)
class PruneConfig:
    enabled: bool = _opt(True, "magnitude pruning of conv and dense kernels")
    sparsity: float = _opt(0.5, "fraction of weights set to zero", above=0, max=0.95)
    epochs: int = _opt(8, "fine-tuning epochs; sparsity ramps up over the first 3/4", min=1)
    batch_size: int = _opt(64, "samples per step", min=1)
    learning_rate: float = _opt(1e-3, "Adam learning rate", above=0)


@dataclass(frozen=True)
class ClusterConfig:
    enabled: bool = _opt(True, "sparsity-preserving weight clustering")
    clusters: int = _opt(16, "distinct weight values per layer (zero included)", min=2,
                         max=256)
    init: str = _opt("kmeans++", "centroid initialization", choices=CLUSTER_INITS)
    epochs: int = _opt(4, "fine-tuning epochs", min=1)
    batch_size: int = _opt(64, "samples per step", min=1)
    learning_rate: float = _opt(3e-4, "Adam learning rate", above=0)


@dataclass(frozen=True)
class ClusterDepthwiseConfig:
    """Post-training clustering of depthwise kernels, which TFMOT never clusters: done on
    the int8 weights of the converted model (tinykit.optimize.depthwise)."""

    enabled: bool = _opt(False, "cluster the int8 weights of every depthwise layer after "
                                "conversion (its accuracy cost is measured and reported)")
    clusters: int = _opt(16, "int8 values per table (16: 4-bit indices, 4: 2-bit)", min=2,
                         max=255)
    scope: str = _opt("layer", "one table for the whole layer (pays for 3x3 kernels of 9 "
                               "taps) or one per channel", choices=DEPTHWISE_SCOPES)
    max_drop: float = _opt(1.0, "largest drop of validation accuracy, in points, the step "
                                "may cost; above it the unclustered model is kept", min=0,
                           max=100)


@dataclass(frozen=True)
class QatConfig:
    enabled: bool = _opt(True, "quantization-aware training preserving sparsity and clusters")
    epochs: int = _opt(4, "fine-tuning epochs", min=1)
    batch_size: int = _opt(64, "samples per step", min=1)
    learning_rate: float = _opt(1e-4, "Adam learning rate", above=0)


@dataclass(frozen=True)
class ConvertConfig:
    representative_samples: int = _opt(256, "training samples that calibrate int8 ranges",
                                       min=1)


@dataclass(frozen=True)
class EvaluateConfig:
    check_samples: int = _opt(256, "seeded synthetic inputs for int8/float agreement", min=1)


@dataclass(frozen=True)
class Config:
    seed: int = _opt(0, "seeds splits, initialization, shuffling and augmentation", min=0)
    data: DataConfig = _sub(DataConfig, "data source and splits")
    augment: AugmentConfig = _sub(AugmentConfig, "training-time augmentation")
    teacher: TeacherConfig = _sub(TeacherConfig, "the float teacher")
    student: StudentConfig = _sub(StudentConfig, "the distilled student")
    prune: PruneConfig = _sub(PruneConfig, "pruning")
    cluster: ClusterConfig = _sub(ClusterConfig, "clustering")
    qat: QatConfig = _sub(QatConfig, "quantization-aware training")
    cluster_depthwise: ClusterDepthwiseConfig = _sub(ClusterDepthwiseConfig,
                                                     "post-training clustering of depthwise "
                                                     "kernels")
    convert: ConvertConfig = _sub(ConvertConfig, "int8 conversion")
    evaluate: EvaluateConfig = _sub(EvaluateConfig, "host evaluation")
    #: Folder relative paths are resolved against; not part of the config's identity.
    base_dir: Path = field(default=Path("."), compare=False, metadata={"internal": True})
    #: The file it came from, for messages.
    source_file: str = field(default="", compare=False, metadata={"internal": True})

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self.base_dir / candidate).resolve()

    def section(self, name: str) -> Any:
        """A top-level section (or `seed`) by name, as plain JSON-able data."""
        value = getattr(self, name)
        return to_dict(value) if dataclasses.is_dataclass(value) else value

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of every setting (paths as written)."""
        text = json.dumps(to_dict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def to_dict(value: Any) -> Any:
    """A config (or section) as plain dicts, lists and scalars, internal fields left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_dict(getattr(value, f.name))
            for f in dataclasses.fields(value) if not f.metadata.get("internal")
        }
    if isinstance(value, tuple):
        return [to_dict(v) for v in value]
    return value


def default_config_path() -> Path:
    """The embedded default example's config."""
    return examples_dir() / "digits" / "tinykit.toml"


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read and check a config file (None: the digits example); apply `key=value` overrides.

    Raises ConfigError for an unreadable file, invalid TOML, an unknown key or a bad value.
    """
    source = Path(path) if path is not None else default_config_path()
    table: dict[str, Any] = {}
    if path is not None or source.is_file():
        table = _read_toml(source)
    for item in overrides:
        _apply_override(table, item)
    where = str(source) if (path is not None or source.is_file()) else "defaults"
    config = _build(Config, table, "", where)
    config = dataclasses.replace(config, base_dir=source.resolve().parent, source_file=where)
    _check_combinations(config, where)
    return config


def config_from_dict(table: Mapping[str, Any], base_dir: Path | None = None) -> Config:
    """A checked Config from an in-memory table (the same rules as a file)."""
    config = _build(Config, dict(table), "", "config")
    config = dataclasses.replace(config, base_dir=(base_dir or Path(".")).resolve())
    _check_combinations(config, "config")
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist",
                          hint="pass --config FILE, or leave it out to build the digits example"
                          ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def _apply_override(table: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override '{item}' should look like section.key=value",
                          hint="for example --set teacher.train.epochs=5")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word is a string: data.source=tfds
    node = table
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override '{item}': '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def _build(cls: type, table: Mapping[str, Any], prefix: str, where: str,
           base: Any = None) -> Any:
    """`base` (default: `cls()`) with the keys of `table` checked and applied."""
    base = cls() if base is None else base
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in table:
        if key not in fields:
            _unknown_key(prefix, key, list(fields), where)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in table:
            continue
        full = f"{prefix}{name}"
        kind = hints[name]
        raw = table[name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(raw, Mapping):
                raise ConfigError(f"{where}: '{full}' must be a table ([{full}]), not {raw!r}")
            values[name] = _build(typing.cast(type, kind), raw, f"{full}.", where,
                                  getattr(base, name))
        else:
            values[name] = _check_value(full, raw, kind, spec.metadata, where)
    return dataclasses.replace(base, **values)


def _unknown_key(prefix: str, key: str, valid: list[str], where: str) -> None:
    section = f"[{prefix[:-1]}]" if prefix else "the top level"
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"did you mean '{prefix}{close[0]}'?" if close else None
    raise ConfigError(
        f"{where}: unknown key '{prefix}{key}'; valid in {section}: {', '.join(valid)}",
        hint=hint,
    )


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _check_value(full: str, raw: Any, kind: Any, rules: Mapping[str, Any], where: str) -> Any:
    if typing.get_origin(kind) is tuple:
        item_type = typing.get_args(kind)[0]
        if not isinstance(raw, list) or not all(_is_type(v, item_type) for v in raw):
            raise ConfigError(f"{where}: {full} = {raw!r} should be a list of "
                              f"{_TYPE_NAMES[item_type].removeprefix('an ').removeprefix('a ')}s")
        return tuple(raw)
    if not _is_type(raw, kind):
        raise ConfigError(f"{where}: {full} = {raw!r} should be {_TYPE_NAMES[kind]}")
    value = float(raw) if kind is float else raw
    choices = rules.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: {full} = {value!r} is not valid; valid: "
                          f"{', '.join(choices)}")
    low, high, above = rules.get("min"), rules.get("max"), rules.get("above")
    if (low is not None and value < low) or (high is not None and value > high) or (
        above is not None and value <= above
    ):
        lower = f"{above} < value" if above is not None else (
            f"{low} <= value" if low is not None else "value")
        upper = f" <= {high}" if high is not None else ""
        raise ConfigError(f"{where}: {full} = {value!r} is out of range; valid: {lower}{upper}")
    return value


def _is_type(value: Any, kind: Any) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _check_combinations(config: Config, where: str) -> None:
    """Rules that involve more than one key."""
    data = config.data
    if data.val_fraction + data.test_fraction >= 0.8:
        raise ConfigError(
            f"{where}: data.val_fraction + data.test_fraction = "
            f"{data.val_fraction + data.test_fraction:g} leaves too little to train on; "
            "valid: a sum below 0.8"
        )
    if data.source == "tfds" and not data.name:
        raise ConfigError(f"{where}: data.name is required when data.source = 'tfds'",
                          hint="for example name = \"mnist\"")
    if data.source in ("image_folder", "audio_folder", "csv") and not data.path:
        raise ConfigError(f"{where}: data.path is required when data.source = '{data.source}'")
    if data.image_size and (len(data.image_size) != 2 or min(data.image_size) < 1):
        raise ConfigError(f"{where}: data.image_size = {list(data.image_size)} is not valid; "
                          "valid: [] or [height, width] with positive sizes")
    if data.csv.stride > data.csv.window:
        raise ConfigError(f"{where}: data.csv.stride = {data.csv.stride} is larger than "
                          f"data.csv.window = {data.csv.window}; valid: stride <= window")
    for role in ("teacher", "student"):
        model = getattr(config, role).model
        if model.arch == "custom" and ":" not in model.custom:
            raise ConfigError(
                f"{where}: {role}.model.custom = {model.custom!r} should be 'file.py:function' "
                f"when {role}.model.arch = 'custom'")
