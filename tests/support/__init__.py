"""Helpers shared by the test folders, importable from any of them as `support`.

tests/conftest.py puts tests/ on sys.path, so a test anywhere under tests/
(and a worker script it starts with that PYTHONPATH) writes, for example:

    from support.deps import require
    from support.ports import free_ports
    from support.parity import bert_batch, max_errors
    from support.passes import assert_exact_passes

Modules:
    deps: `require(name)`, the one way a test depends on an optional package.
    ports: free localhost ports for multi-process clusters.
    parity: random BERT inputs and the error measure the converter tests use.
    hf: a random transformers BERT and its outputs (needs torch, transformers).
    fuzz: hypothesis (given, settings, HealthCheck, st) through `require`.
    passes: `assert_exact_passes`, the (seed, pass) check of training loaders.
    kills: `sigkill_after_backup`, the resume tests' kill of a `train_tf.py` run,
        and `on_backup_change`, a poll of a run's backup that reads it only when new.
"""
