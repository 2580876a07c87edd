"""Pick a `tf.distribute` strategy by name, and the helpers that go with it.

Names: "auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu". Build the
model and call `compile` inside `strategy.scope()`; `fit` then picks the
strategy up from the model.

Example:

    strategy = get_strategy("auto")
    per_replica_batch = check_global_batch_size(64, strategy)
    with strategy.scope():
        model = build_model()
        model.compile(optimizer="adam", loss="mse")
    model.fit(dataset.batch(64), epochs=1)
    model.save(output_path_for_worker("out/model.keras", strategy))
"""

import glob
import json
import os
import shutil
import tempfile
import weakref

import numpy as np
import tensorflow as tf

from keras_bert_impl.choices import STRATEGY_NAMES
from keras_bert_impl.training import multi_worker_compat

_PARAMETER_SERVER_MESSAGE = (
    "Keras 3 `Model.fit` does not support ParameterServerStrategy (it has no "
    "ClusterCoordinator training loop). Use 'multi_worker' "
    "(MultiWorkerMirroredStrategy: every task is a 'chief' or 'worker')"
)
# Job names that only a parameter-server cluster has.
_PARAMETER_SERVER_JOBS = ("ps", "parameter_server")
_MULTI_WORKER_JOBS = ("chief", "worker")

# TPU systems this process already initialised, by address: initialising a TPU
# again wipes its memory, so a second `get_strategy("tpu")` must not redo it.
_initialized_tpus = {}
# Per strategy, the tf.function `sum_over_workers` runs.
_worker_sums = weakref.WeakKeyDictionary()


def get_strategy(name="auto", tpu_address=None):
    """Returns the distribution strategy called `name`.

    - "auto": "multi_worker" when TF_CONFIG names a cluster of more than one
      task, else "tpu" when this host shows a TPU, else "mirrored" over all
      GPUs when there are several, else TensorFlow's default strategy.
    - "cpu" / "gpu": one device (the first CPU / GPU).
    - "mirrored": MirroredStrategy over all GPUs, or over all logical CPU
      devices when there is no GPU.
    - "multi_worker": MultiWorkerMirroredStrategy configured by TF_CONFIG
      (one worker when TF_CONFIG is unset). Applies
      `multi_worker_compat.apply_multi_worker_fixes()` so Keras `fit` works.
    - "tpu": TPUStrategy on `tpu_address` (default: $TPU_NAME, else the
      Colab TPU, else "local" for a TPU VM).

    Args:
        name: One of `STRATEGY_NAMES`.
        tpu_address: TPU name or "grpc://host:port", only used by "tpu" and
            "auto".

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: for an unknown name, "parameter_server", a malformed
            TF_CONFIG or one with parameter-server jobs, or a requested
            device kind this host lacks.

    Example:

        strategy = get_strategy("mirrored")
        print(strategy.num_replicas_in_sync)
    """
    normalized = _checked_strategy_name(name)
    if normalized == "auto":
        normalized = _auto_strategy_name(read_tf_config(), tpu_address)
    else:
        read_tf_config()  # a malformed TF_CONFIG is reported whatever the name
    return _STRATEGY_BUILDERS.get(normalized, _default_strategy)(tpu_address)


def compute_device_kinds(strategy):
    """The kinds of device ("CPU", "GPU", "TPU") `strategy`'s replicas compute on.

    TensorFlow's default strategy names no devices: it runs where TensorFlow
    places ops, on the GPU when there is one.
    """
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:
        return {"GPU"} if tf.config.list_logical_devices("GPU") else {"CPU"}
    return {tf.DeviceSpec.from_string(device).device_type for device in devices}


def _checked_strategy_name(name):
    normalized = name.strip().lower().replace("-", "_") if name else name
    if normalized in ("parameter_server", "ps", "parameter_server_strategy"):
        raise ValueError(f"Strategy {name!r}: {_PARAMETER_SERVER_MESSAGE}.")
    if normalized not in STRATEGY_NAMES:
        raise ValueError(
            f"Unknown strategy name {name!r}; expected one of "
            f"{', '.join(STRATEGY_NAMES)}."
        )
    return normalized


def _one_cpu_strategy(tpu_address):
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def _one_gpu_strategy(tpu_address):
    if not tf.config.list_logical_devices("GPU"):
        raise ValueError(
            "Strategy 'gpu' needs a GPU, but TensorFlow sees none; use "
            "'cpu' or 'auto'."
        )
    return tf.distribute.OneDeviceStrategy("/gpu:0")


def _multi_worker_strategy(tpu_address):
    multi_worker_compat.apply_multi_worker_fixes()
    return tf.distribute.MultiWorkerMirroredStrategy()


def _default_strategy(tpu_address):
    return tf.distribute.get_strategy()


def read_tf_config():
    """Parses and checks the TF_CONFIG environment variable.

    Returns:
        The parsed dict, or None when TF_CONFIG is unset or empty.

    Raises:
        ValueError: naming what is wrong: not JSON, no "cluster" or "task",
            an unknown task type, a task index out of range, or
            parameter-server jobs.

    Example:

        os.environ["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": ["localhost:12345", "localhost:23456"]},
            "task": {"type": "worker", "index": 0},
        })
        read_tf_config()["task"]  # {"type": "worker", "index": 0}
    """
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    config = _parse_tf_config(raw)
    cluster = _checked_cluster(config.get("cluster"))
    _check_task(config.get("task"), cluster)
    return config


def _parse_tf_config(raw):
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({error}); expected "
            '{"cluster": {"worker": ["host:port", ...]}, '
            '"task": {"type": "worker", "index": 0}}.'
        ) from None
    if not isinstance(config, dict):
        raise ValueError(
            f"TF_CONFIG must be a JSON object, got {type(config).__name__}."
        )
    return config


def _checked_cluster(cluster):
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(
            f"TF_CONFIG field 'cluster' is {cluster!r}; expected a non-empty "
            'object such as {"worker": ["host:port", ...]}.'
        )
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses:
            raise ValueError(
                f"TF_CONFIG field 'cluster.{job}' is {addresses!r}; expected "
                "a non-empty list of 'host:port' strings."
            )
    return cluster


def _check_task(task, cluster):
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(
            f"TF_CONFIG field 'task' is {task!r}; expected "
            '{"type": "worker", "index": 0}.'
        )
    task_type, task_index = task["type"], task["index"]
    if set(cluster) & set(_PARAMETER_SERVER_JOBS) or task_type in _PARAMETER_SERVER_JOBS:
        raise ValueError(
            f"TF_CONFIG asks for parameter-server jobs (cluster jobs "
            f"{sorted(cluster)}, task type {task_type!r}): "
            f"{_PARAMETER_SERVER_MESSAGE}."
        )
    if task_type not in cluster:
        raise ValueError(
            f"TF_CONFIG field 'task.type' is {task_type!r}, which is not a "
            f"job in 'cluster' ({sorted(cluster)})."
        )
    num_tasks = len(cluster[task_type])
    if not isinstance(task_index, int) or not 0 <= task_index < num_tasks:
        raise ValueError(
            f"TF_CONFIG field 'task.index' is {task_index!r}; expected an "
            f"integer in [0, {num_tasks}) since 'cluster.{task_type}' has "
            f"{num_tasks} address(es)."
        )


def check_global_batch_size(batch_size, strategy):
    """Checks that the global batch splits evenly over the replicas.

    Args:
        batch_size: The global batch size (what `dataset.batch` gets).
        strategy: The `tf.distribute.Strategy` that will train.

    Returns:
        The per-replica batch size.

    Raises:
        ValueError: if `batch_size` is not a positive multiple of
            `strategy.num_replicas_in_sync`.

    Example:

        check_global_batch_size(64, get_strategy("mirrored"))  # 32 on 2 GPUs
    """
    replicas = strategy.num_replicas_in_sync
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(
            f"Global batch size is {batch_size!r}; expected a positive integer."
        )
    if batch_size % replicas:
        lower = max(replicas, batch_size - batch_size % replicas)
        raise ValueError(
            f"Global batch size {batch_size} is not divisible by the "
            f"{replicas} replicas of {type(strategy).__name__}; use a multiple "
            f"of {replicas} (e.g. {lower} or {lower + replicas})."
        )
    return batch_size // replicas


def is_chief(strategy):
    """Whether this process is the one that writes the final outputs.

    Only a multi-worker strategy has non-chief processes: the chief is the
    "chief" task, or worker 0 when the cluster has no "chief" job.

    Example:

        if is_chief(strategy):
            print("final model written by this worker")
    """
    task_type, task_index = _task_of(strategy)
    if task_type is None or task_type == "chief":
        return True
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_index == 0 and "chief" not in cluster


def output_path_for_worker(path, strategy):
    """Where this worker should write `path`.

    Every worker of a MultiWorkerMirroredStrategy must run the same saving
    code (saving may synchronise the workers), but only the chief's file is
    the real one. Non-chief workers get a path in a fresh temporary directory,
    which the caller deletes after writing (Keras multi-worker convention).

    Args:
        path: The file or directory the chief writes.
        strategy: The training strategy.

    Returns:
        `path` on the chief, else a path with the same base name in a new
        temporary directory.

    Example:

        target = output_path_for_worker("out/model.keras", strategy)
        model.save(target)
        if not is_chief(strategy):
            shutil.rmtree(os.path.dirname(target))
    """
    if is_chief(strategy):
        return path
    task_type, task_index = _task_of(strategy)
    temp_dir = tempfile.mkdtemp(prefix=f"{task_type}_{task_index}_")
    return os.path.join(temp_dir, os.path.basename(os.path.normpath(path)))


def remove_worker_output(path, strategy):
    """Deletes what a non-chief worker wrote to `output_path_for_worker(...)`.

    Does nothing on the chief, whose `path` is the real output.

    Example:

        target = output_path_for_worker("out/model.keras", strategy)
        model.save(target)
        remove_worker_output(target, strategy)
    """
    if not is_chief(strategy):
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def shard_by_data(dataset):
    """Makes tf.distribute split `dataset` by batch rows, not by input files.

    Under DATA sharding every worker runs the whole input pipeline and keeps
    the rows of each global batch that belong to its replicas, so the
    workers together train on exactly the batches a one-worker run would (same
    seed, same shuffles, same masks). The default AUTO policy shards by file
    when the pipeline reads files through a reader dataset (TFRecord files of
    a tfds dataset, for instance): then each worker sees different documents,
    and a worker with no file of its own fails. The price of DATA is that
    every worker tokenizes the whole corpus; outside a multi-worker strategy
    the option does nothing.

    Example:

        model.fit(shard_by_data(dataset.batch(64, drop_remainder=True)))
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)


def per_worker_dir(base_dir, strategy):
    """A directory only this worker uses, e.g. for `BackupAndRestore`.

    Keras 3 `BackupAndRestore` writes plain files, so workers that share a
    `backup_dir` would overwrite each other's backups.

    Returns:
        `base_dir` without a multi-worker cluster, else
        `base_dir/<task type>_<task index>`.

    Example:

        keras.callbacks.BackupAndRestore(per_worker_dir("backup", strategy))
    """
    task_type, task_index = _task_of(strategy)
    if task_type is None:
        return base_dir
    return os.path.join(base_dir, f"{task_type}_{task_index}")


def worker_count_and_index(strategy):
    """(number of worker processes, this one's index), (1, 0) outside a cluster.

    Tasks are numbered chief first, then workers, in TF_CONFIG's order.
    """
    task_type, task_index = _task_of(strategy)
    if task_type is None:
        return 1, 0
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    tasks = [(job, i) for job in _MULTI_WORKER_JOBS for i in range(len(cluster.get(job, [])))]
    return len(tasks), tasks.index((task_type, task_index))


def sum_over_workers(strategy, values):
    """Element-wise sum of an int array over the worker processes (a collective).

    Every worker must call it at the same point. Outside a cluster it
    returns `values`.

    Example:

        seen = np.zeros([num_workers], np.int64); seen[index] = 1
        sum_over_workers(strategy, seen)  # [1, 1, ...] on every worker
    """
    num_workers, _ = worker_count_and_index(strategy)
    values = np.asarray(values, np.int64)
    if num_workers == 1:
        return values
    local_replicas = strategy.num_replicas_in_sync // num_workers
    total = _worker_sum(strategy)(tf.constant(values))
    # Each local replica contributed the worker's array once.
    return total.numpy() // local_replicas


def _worker_sum(strategy):
    """The strategy's all-reduce as one tf.function, traced once per shape.

    Run eagerly, `strategy.run` costs a graph build per call and
    MultiWorkerMirroredStrategy warns of that overhead; the stop check calls
    it after every step.
    """
    if strategy not in _worker_sums:

        @tf.function
        def total(value):
            per_replica = strategy.run(tf.identity, args=(value,))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

        _worker_sums[strategy] = total
    return _worker_sums[strategy]


def _task_of(strategy):
    """(task type, task index) of this process, (None, None) outside a cluster."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None, None
    resolver = strategy.cluster_resolver
    if resolver is None or not resolver.task_type:
        return None, None
    return resolver.task_type, resolver.task_id


def _auto_strategy_name(tf_config, tpu_address):
    if tf_config is not None:
        num_tasks = sum(
            len(tf_config["cluster"].get(job, [])) for job in _MULTI_WORKER_JOBS
        )
        if num_tasks > 1:
            return "multi_worker"
    if tpu_address is not None or _host_shows_tpu():
        try:
            _tpu_strategy(_default_tpu_address(tpu_address))
            return "tpu"
        except (ValueError, tf.errors.OpError):
            pass
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def _host_shows_tpu():
    """Cheap local signs of a TPU, checked before any resolver.

    `TPUClusterResolver()` with no TPU around can block on the GCE metadata
    server, so "auto" only asks a resolver when one of these is present.
    """
    return bool(
        os.environ.get("TPU_NAME")
        or os.environ.get("COLAB_TPU_ADDR")
        or glob.glob("/dev/accel*")
        or glob.glob("/dev/vfio/[0-9]*")
    )


def _default_tpu_address(tpu_address):
    if tpu_address is not None:
        return tpu_address
    if os.environ.get("TPU_NAME"):
        return os.environ["TPU_NAME"]
    # An empty name makes the resolver read COLAB_TPU_ADDR (Colab TPU node);
    # "local" is the TPU attached to this VM (Colab / Cloud TPU VM).
    return "" if os.environ.get("COLAB_TPU_ADDR") else "local"


def _mirrored_strategy(tpu_address=None):
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    cpus = [cpu.name for cpu in tf.config.list_logical_devices("CPU")]
    # NCCL, MirroredStrategy's default all-reduce, needs GPUs.
    return tf.distribute.MirroredStrategy(
        cpus, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


def _tpu_strategy_at_default(tpu_address):
    return _tpu_strategy(_default_tpu_address(tpu_address))


def _tpu_strategy(tpu_address):
    resolver = _initialized_tpus.get(tpu_address)
    if resolver is None:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
                tpu=tpu_address
            )
        except ValueError as error:
            raise ValueError(
                f"No TPU found at tpu_address={tpu_address!r} ({error}). On "
                "Colab pick a TPU runtime; elsewhere set TPU_NAME."
            ) from None
        if tpu_address != "local":
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        _initialized_tpus[tpu_address] = resolver
    return tf.distribute.TPUStrategy(resolver)


_STRATEGY_BUILDERS = {
    "cpu": _one_cpu_strategy,
    "gpu": _one_gpu_strategy,
    "mirrored": _mirrored_strategy,
    "multi_worker": _multi_worker_strategy,
    "tpu": _tpu_strategy_at_default,
}
