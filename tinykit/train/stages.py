"""Build stages that train: the float teacher, and the student distilled from it.

Each writes its model as `<role>.h5` (plain tf_keras layers, loadable without custom
objects) and returns a summary with the training history and Keras accuracies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinykit.config import Config
from tinykit.data.dataset import Splits


def load_splits(ctx: Any) -> Splits:
    return Splits.load(ctx.input("data").file("splits.npz"))


def load_model(path: Path, config: Config | None = None) -> Any:
    """A model saved by a tinykit stage (no compile state).

    A config whose models have a custom body may hold Lambda layers, which Keras loads
    only once allowed (the user's own code built them).
    """
    from tinykit._tf import allow_lambda_layers, filtered_stderr, keras

    if config is not None and "custom" in (config.teacher.model.arch, config.student.model.arch):
        allow_lambda_layers()
    with filtered_stderr():
        return keras.models.load_model(path, compile=False)


def save_model(model: Any, path: Path) -> None:
    """Save as HDF5 through a temporary name (the stage folder is itself atomic)."""
    from tinykit._tf import filtered_stderr

    with filtered_stderr():
        model.save(path, include_optimizer=False, save_format="h5")


def new_classifier(config: Config, role: str, splits: Splits) -> Any:
    from tinykit.train.zoo import build_classifier

    model_cfg = getattr(config, role).model
    return build_classifier(model_cfg, splits.input_shape, splits.num_classes, splits.mean,
                            splits.inv_std, name=role, base_dir=config.base_dir)


def _summary(model: Any, history: dict[str, Any], splits: Splits) -> dict[str, Any]:
    from tinykit.train.fit import accuracy

    return {
        "params": int(model.count_params()),
        "val_accuracy": accuracy(model, splits.x_val, splits.y_val),
        "history": history,
    }


def teacher_stage(ctx: Any) -> dict[str, Any]:
    """Train the float teacher with labels (and class weights) only."""
    from tinykit._tf import seed_everything
    from tinykit.train.fit import fit

    config: Config = ctx.config
    splits = load_splits(ctx)
    seed_everything(config.seed)
    model = new_classifier(config, "teacher", splits)
    ctx.progress.info(f"teacher: {config.teacher.model.arch} x{config.teacher.model.width:g}, "
                      f"{model.count_params():,} parameters")
    history = fit(model, splits, config.teacher.train, name="teacher", seed=config.seed,
                  augment=config.augment, progress=ctx.progress)
    save_model(model, ctx.work / "teacher.h5")
    return _summary(model, history, splits)


def student_stage(ctx: Any) -> dict[str, Any]:
    """Distill the student from the teacher (soft targets at temperature T plus labels)."""
    from tinykit._tf import seed_everything
    from tinykit.train.distill import Distiller
    from tinykit.train.fit import fit, optimizer, train_dataset

    config: Config = ctx.config
    splits = load_splits(ctx)
    teacher = load_model(ctx.input("teacher").file("teacher.h5"), config)
    seed_everything(config.seed + 1)
    student = new_classifier(config, "student", splits)
    ctx.progress.info(f"student: {config.student.model.arch} x{config.student.model.width:g}, "
                      f"{student.count_params():,} parameters, distilled at T = "
                      f"{config.student.distill.temperature:g}, alpha = "
                      f"{config.student.distill.alpha:g}")
    distiller = Distiller(student, teacher, config.student.distill.temperature,
                          config.student.distill.alpha)
    train = config.student.train
    _, steps = train_dataset(splits, train.batch_size, config.seed, config.augment)
    distiller.compile(optimizer=optimizer(train.learning_rate, steps * train.epochs))
    history = fit(distiller, splits, train, name="student", seed=config.seed + 1,
                  augment=config.augment, progress=ctx.progress, compile_model=False)
    save_model(student, ctx.work / "student.h5")
    return _summary(student, history, splits)
