"""Data sets that work offline: seeded synthetic generators, bundled real data, and loaders for files on disk."""

from dl_theory.data._datasets import (
    Dataset,
    binary,
    digits,
    digits_subset,
    gaussian,
    load_cifar10,
    load_mnist,
    mnist1d,
    planted_margin,
    random_labels,
    read_idx,
    rings,
    teacher_student,
    two_moons,
)

__all__ = ["Dataset", "binary", "digits", "digits_subset", "gaussian", "load_cifar10", "load_mnist", "mnist1d",
           "planted_margin", "random_labels", "read_idx", "rings", "teacher_student", "two_moons"]
