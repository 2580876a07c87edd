"""Flags and set-up shared by the training subcommands (pretrain, finetune, evaluate).

Like every `cli` module it imports TensorFlow-side modules only inside the
functions that run a job (see `keras_bert_impl.cli`), so flags build fast.
"""

import json
import os
import sys

from keras_bert_impl.choices import OPTIMIZERS, PRECISIONS, STRATEGY_NAMES
from keras_bert_impl.io_utils import write_text_atomically
from keras_bert_impl.training.signals import StopRequest, TrainingInterrupted

# Seconds between progress lines within an epoch when stdout is not a terminal.
PROGRESS_SECONDS = 30.0


def add_dropout_argument(parser, default_text):
    """Adds --dropout: the rate on embeddings, block outputs, attention and task heads."""
    parser.add_argument(
        "--dropout", type=float,
        help=f"dropout rate on embeddings, block outputs, attention probabilities and the "
        f"task head (default {default_text})",
    )


def check_dropout(args):
    """Raises a ValueError naming --dropout unless it is unset or 0 <= rate < 1."""
    if args.dropout is not None and not 0 <= args.dropout < 1:
        raise ValueError(f"--dropout {args.dropout}: expected a rate with 0 <= rate < 1, e.g. 0.1.")


def add_optimizer_arguments(parser, learning_rate):
    """Adds --learning-rate, --warmup-ratio, --optimizer and --beta2.

    Args:
        parser: the subcommand's `argparse` parser.
        learning_rate: the default peak learning rate as the help should show
            it, e.g. "1e-4" (argparse converts a string default with `type`).
    """
    parser.add_argument(
        "--learning-rate", type=float, default=learning_rate,
        help=f"peak learning rate (default {learning_rate})",
    )
    parser.add_argument("--warmup-ratio", type=float, default=0.1, help="fraction of steps warming up (default 0.1)")
    parser.add_argument(
        "--optimizer", choices=OPTIMIZERS, default="adamw",
        help="adamw (BERT's, the default) or lamb (large batches)",
    )
    parser.add_argument(
        "--beta2", type=float, default=0.999,
        help="decay of the optimizer's second-moment estimate (default 0.999, BERT's); 0.98 "
        "(RoBERTa's) let the main job's short pretraining gain from a higher learning rate",
    )


def check_optimizer_arguments(args):
    """Raises a ValueError naming the first of --learning-rate, --warmup-ratio
    and --beta2 that is out of range."""
    check_positive(args, "learning_rate")
    if not 0 <= args.warmup_ratio < 1:
        raise ValueError(f"--warmup-ratio {args.warmup_ratio}: expected 0 <= ratio < 1, e.g. 0.1.")
    if not 0 < args.beta2 < 1:
        raise ValueError(f"--beta2 {args.beta2}: expected 0 < beta2 < 1, e.g. 0.98.")


def create_optimizer_for(args, total_steps):
    """Returns the optimizer, with its learning-rate schedule, that the
    --learning-rate, --warmup-ratio, --optimizer and --beta2 flags ask for.

    Args:
        args: the parsed flags (checked by `check_optimizer_arguments`).
        total_steps: training steps; the schedule reaches 0 there.
    """
    from keras_bert_impl.training.optimization import create_optimizer

    return create_optimizer(
        args.learning_rate, total_steps, args.warmup_ratio, args.optimizer, beta_2=args.beta2
    )


def add_run_arguments(parser, seq_len=128, batch_size=32):
    """Adds --seq-len, --batch-size, --strategy, --precision, --jit-compile, --seed.

    `seq_len=None`: the default is the model directory's training length.
    """
    default = "the length the model was trained at" if seq_len is None else seq_len
    parser.add_argument(
        "--seq-len", type=int, default=seq_len,
        help=f"tokens per sequence, [CLS] and [SEP] included (default {default}); "
        "at most the model's max_position_embeddings",
    )
    parser.add_argument(
        "--batch-size", type=int, default=batch_size,
        help=f"global batch size, split across replicas (default {batch_size}); "
        "must be divisible by the number of replicas",
    )
    parser.add_argument(
        "--strategy", choices=STRATEGY_NAMES, default="auto",
        help="tf.distribute strategy: auto (TPU if present, else all GPUs, else one "
        "device), cpu, gpu, mirrored (all GPUs or all logical CPUs), multi_worker "
        "(MultiWorkerMirroredStrategy from TF_CONFIG), tpu (Colab/Cloud TPU). "
        "ParameterServerStrategy is not supported by Keras 3",
    )
    parser.add_argument(
        "--precision", choices=("auto", *PRECISIONS), default="float32",
        help="float32 (default), mixed_bfloat16 (faster where bfloat16 is native: TPUs, "
        "GPUs from Ampere on, CPUs with AMX, AVX-512 BF16 or Arm BF16), mixed_float16 (GPUs; with "
        "dynamic loss scaling) or auto (mixed_bfloat16 where it is native, else float32)",
    )
    parser.add_argument(
        "--jit-compile", action="store_true",
        help="compile the train step with XLA (useful on one GPU or TPU; slower on "
        "CPU, and not supported under MirroredStrategy)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--deterministic", action="store_true",
        help="use only deterministic kernels (tf.config.experimental.enable_op_determinism), "
        "so a rerun with the same seed repeats every loss bit for bit on GPU/TPU too; "
        "CPU runs repeat without it (see docs/STRATEGIES.md for the cost)",
    )


def run_training(train, args):
    """Runs `train(args)` and returns the exit status.

    A NaN/Inf loss ends with one `error:` line and status 3; a SIGTERM/SIGINT
    stop (after its backup) with one `stopped:` line and 128 + the signal
    number (143, 130), so a scheduler can tell them from success and from
    user errors (2, see `cli.run_guarded`).
    """
    from keras_bert_impl.training.callbacks import NON_FINITE_EXIT_STATUS, NonFiniteLossError

    try:
        train(args)
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        return NON_FINITE_EXIT_STATUS
    except TrainingInterrupted as e:
        print(f"stopped: {e}", file=sys.stderr)
        return e.exit_status
    return 0


def check_positive(args, *names):
    for name in names:
        value = getattr(args, name)
        if value is not None and not value > 0:  # NaN too
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be positive, got {value}.")


def set_up_run(args):
    """Seeds, sets the precision and returns `(strategy, per_replica_batch)`."""
    import keras
    import tensorflow as tf

    from keras_bert_impl.training.precision import resolve_precision, set_precision
    from keras_bert_impl.training.strategy import check_global_batch_size, compute_device_kinds, get_strategy

    check_positive(args, "seq_len", "batch_size")
    keras.utils.set_random_seed(args.seed)
    if getattr(args, "deterministic", False):
        tf.config.experimental.enable_op_determinism()
    strategy = get_strategy(args.strategy)
    args.precision, reason = resolve_precision(args.precision, compute_device_kinds(strategy))
    if reason:
        print(f"--precision auto: {args.precision} on {reason}")
    set_precision(args.precision)
    check_global_batch_size(args.batch_size, strategy)
    if args.jit_compile and strategy.num_replicas_in_sync > 1 and args.strategy != "tpu":
        raise ValueError(
            "--jit-compile is not supported with several replicas under "
            f"--strategy {args.strategy} (Keras 3 fit fails under MirroredStrategy "
            "with XLA); drop --jit-compile."
        )
    return strategy


def check_seq_len(seq_len, config):
    if seq_len > config.max_position_embeddings:
        raise ValueError(
            f"--seq-len {seq_len} exceeds the model's max_position_embeddings "
            f"({config.max_position_embeddings})."
        )
    if seq_len < 3:
        raise ValueError(f"--seq-len must be at least 3 ([CLS] x [SEP]), got {seq_len}.")


def write_json(path, values):
    write_text_atomically(path, json.dumps(values, indent=2, sort_keys=True) + "\n")


def history_summary(history):
    """First and last value of each logged metric, for the closing print."""
    return {name: (values[0], values[-1]) for name, values in history.history.items() if values}


def print_history(history):
    for name, (first, last) in history_summary(history).items():
        print(f"  {name:>24}: {first:.4f} -> {last:.4f}")


def output_dir_for(args):
    """The absolute `--output`; not created here (see `start_output`)."""
    return os.path.abspath(args.output)


def start_output(output_dir):
    """Creates `--output` as training starts, so a run that fails before leaves nothing.

    A folder that already holds a finished model (and no backup to resume)
    is trained over from the start; say so rather than replace it silently.
    """
    from keras_bert_impl.model_dir import is_model_dir

    if is_model_dir(output_dir) and not os.path.isdir(os.path.join(output_dir, "backup")):
        print(
            f"{output_dir} holds a finished model; this run trains a new one and "
            "replaces it when done (use another --output to keep it)"
        )
    os.makedirs(output_dir, exist_ok=True)


def backup_dir_for(output_dir, strategy):
    """Where this worker keeps the resumable state of a run writing `output_dir`."""
    from keras_bert_impl.training.strategy import per_worker_dir

    return per_worker_dir(os.path.join(output_dir, "backup"), strategy)


def fit_resumably(model, data, args, strategy, output_dir, restore_batches=None, **fit_args):
    """`model.fit` with the run's callbacks: backups, TensorBoard, NaN and signal stops.

    Returns:
        `(history, backup_dir)`; pass both to `save_run` once training ends.
    """
    from keras_bert_impl.training.callbacks import progress_verbosity, training_callbacks
    from keras_bert_impl.training.finite_data import expected_end_of_data
    from keras_bert_impl.training.progress import PeriodicProgress
    from keras_bert_impl.training.strategy import is_chief

    backup_dir = backup_dir_for(output_dir, strategy)
    verbose = progress_verbosity()
    with StopRequest() as stop:
        callbacks = training_callbacks(
            output_dir, backup_dir, args.precision, tensorboard=is_chief(strategy), stop=stop,
            restore_batches=restore_batches,
        )
        if verbose != 1:  # no live progress bar: a line every half minute instead
            callbacks.append(PeriodicProgress(PROGRESS_SECONDS))
        # The training data is endless (repeated or streamed); only the
        # validation data ends, once per epoch.
        with expected_end_of_data():
            history = model.fit(
                data,
                shuffle=False,  # the pipelines shuffle
                callbacks=callbacks,
                verbose=verbose,
                **fit_args,
            )
    return history, backup_dir


def save_run(model, strategy, output_dir, history, backup_dir, vocab_file, lowercase, *,
             seq_len, label_names=None, json_files=None):
    """Writes the model directory (the chief's only), then drops the backup.

    The backup goes last, so a kill before the model is complete resumes
    instead of losing the run.

    Args:
        seq_len: the training length, recorded for everything that reads
            text with the model afterwards.
        json_files: extra `{file name: values}` written beside the model.
    """
    from keras_bert_impl.model_dir import save_model_dir
    from keras_bert_impl.training.callbacks import remove_backup
    from keras_bert_impl.training.strategy import output_path_for_worker, remove_worker_output

    save_dir = output_path_for_worker(output_dir, strategy)
    save_model_dir(
        save_dir, model, vocab_file, lowercase, seq_len=seq_len, label_names=label_names
    )
    for name, values in (json_files or {}).items():
        write_json(os.path.join(save_dir, name), values)
    if history.history:
        write_json(os.path.join(save_dir, "history.json"), history.history)
        print("training done (first epoch -> last epoch):")
        print_history(history)
    remove_worker_output(save_dir, strategy)
    remove_backup(backup_dir)
    logs = os.path.join(output_dir, "logs")
    if os.path.isdir(logs):
        print(f"training curves: tensorboard --logdir {os.path.relpath(logs)}")
