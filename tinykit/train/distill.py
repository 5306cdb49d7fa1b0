"""Knowledge distillation: a student trained on the teacher's soft targets and the labels.

loss = alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(teacher/T) ||
softmax(student/T)) (Hinton et al. 2015; the T^2 keeps the soft-target gradients on the
scale of the hard ones). Class weights act as per-sample weights on both terms.
"""

from __future__ import annotations

from typing import Any

from tinykit._tf import keras, tf
from tinykit.train.zoo import logits_model


class Distiller(keras.Model):
    """Trains `student` (a zoo classifier) against a frozen `teacher`."""

    def __init__(self, student: Any, teacher: Any, temperature: float, alpha: float) -> None:
        super().__init__(name="distiller")
        self.student = student
        self.student_logits = logits_model(student)
        self.teacher_logits = logits_model(teacher)
        self.teacher_logits.trainable = False
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    @property
    def metrics(self) -> list[Any]:
        return [self.loss_tracker, self.accuracy]

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.student(inputs, training=training)

    def _distillation_loss(self, y: Any, student: Any, teacher: Any) -> Any:
        t = self.temperature
        hard = keras.losses.sparse_categorical_crossentropy(y, student, from_logits=True)
        soft = keras.losses.kl_divergence(tf.nn.softmax(teacher / t),
                                          tf.nn.softmax(student / t)) * (t * t)
        return self.alpha * hard + (1.0 - self.alpha) * soft

    def train_step(self, data: Any) -> dict[str, Any]:
        x, y, weight = data
        teacher = self.teacher_logits(x, training=False)
        variables = self.student_logits.trainable_variables
        with tf.GradientTape() as tape:
            student = self.student_logits(x, training=True)
            per_sample = self._distillation_loss(y, student, teacher)
            loss = tf.reduce_sum(per_sample * weight) / tf.maximum(tf.reduce_sum(weight), 1e-9)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables,
                                           strict=True))
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(y, student)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data: Any) -> dict[str, Any]:
        x, y = data[0], data[1]
        student = self.student_logits(x, training=False)
        loss = keras.losses.sparse_categorical_crossentropy(y, student, from_logits=True)
        self.loss_tracker.update_state(tf.reduce_mean(loss))
        self.accuracy.update_state(y, student)
        return {m.name: m.result() for m in self.metrics}
