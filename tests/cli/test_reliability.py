"""Reliability of `train_tf.py` as a user meets it, in real processes.

* Kill and resume: one pretraining run is stopped again and again at random
  points (SIGKILL during start-up or restore, during training, in the middle
  of a backup write, and a SIGTERM) and rerun each time; every rerun resumes
  from the last backup and the last one ends at exactly --steps with a model
  that loads. That last rerun, which no signal reaches, runs in this process
  (a TensorFlow start-up fewer). The random points come from a fixed seed
  (KILL_SEED overrides it), printed first, so a failure in CI replays from
  its log. Every planned trial runs: each signal lands before a step deadline
  that leaves the run steps to do, however fast the machine.
* Bad input: every mistake a user can make with files, flags, configs and
  the environment ends with exit status 2 and one `error: ...` line on stderr
  (TensorFlow's own start-up log lines aside), never a traceback; a NaN loss
  ends with status 3.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from keras_bert_impl.config import BertConfig
from keras_bert_impl.training.callbacks import read_backup_position

from cli_support import REPO_ROOT, run_cli, run_in_process

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serving"))
from tiny_models import make_tiny_model_dir  # noqa: E402

STEPS, EVERY = 48, 3
# Trial i signals by backup step DEADLINE_FIRST + i * DEADLINE_GAP at the latest
# (6, 15, 24, 33), so 15 steps always remain: no trial can find the run finished.
DEADLINE_FIRST, DEADLINE_GAP = 2 * EVERY, 3 * EVERY
KILL_SEED = int(os.environ.get("KILL_SEED", "20261201"))
# TensorFlow logs a few lines from C++ before it reads TF_CPP_MIN_LOG_LEVEL.
_TF_LOG_LINE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl)")


def tiny_config(path):
    BertConfig.preset(
        "bert_tiny", hidden_size=32, num_heads=2, num_layers=1, intermediate_size=64,
        max_position_embeddings=64,
    ).save_json_file(str(path))
    return str(path)


def user_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip() and not _TF_LOG_LINE.match(line)]


# Kill and resume.


def backup_progress(output):
    """Steps covered by the newest readable backup (0 without one)."""
    for name in ("latest.weights.h5", "previous.weights.h5"):
        path = os.path.join(output, "backup", name)
        if os.path.exists(path):
            position = read_backup_position(path)
            return position["epoch"] * EVERY + position["steps"]
    return 0


def metadata_progress(output):
    """Steps covered by the newest backup, from its readable copy (cheap to poll)."""
    try:
        with open(os.path.join(output, "backup", "training_metadata.json")) as f:
            position = json.load(f)
    except (FileNotFoundError, ValueError):
        return 0
    return position["epoch"] * EVERY + position["steps"]


def finished(output):
    """Whether a run completed: its backup is gone and its model is whole."""
    return not os.path.exists(os.path.join(output, "backup")) and zipfile.is_zipfile(
        os.path.join(output, "model.keras")
    )


def wait_for(condition, interval, process, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(interval)
    return False


@pytest.mark.slow
def test_random_kills_and_a_sigterm_always_resume_to_the_same_final_step(tmp_path, corpus_file):
    seed = KILL_SEED
    print(f"kill seed {seed} (rerun with KILL_SEED={seed} to replay)")
    rng = random.Random(seed)
    output = str(tmp_path / "run")
    argv = [
        sys.executable, os.path.join(REPO_ROOT, "train_tf.py"), "pretrain",
        "--corpus", corpus_file, "--vocab-size", "300", "--config", tiny_config(tmp_path / "c.json"),
        "--steps", str(STEPS), "--checkpoint-every", str(EVERY), "--seq-len", "32",
        "--batch-size", "8", "--output", output,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    backup_dir = os.path.join(output, "backup")
    metadata = os.path.join(backup_dir, "training_metadata.json")

    def temporaries():
        try:
            return {name for name in os.listdir(backup_dir) if name.startswith(".tmp-")}
        except FileNotFoundError:
            return set()

    def after_a_new_backup(start):
        # The readable copy of the position is rewritten after each backup (cheap to watch).
        def modified():
            try:
                return os.stat(metadata).st_mtime_ns
            except FileNotFoundError:
                return 0

        before = modified()
        return (lambda: modified() != before), 0.02

    def during_a_backup_write(start):
        # Temporary names carry the process id: one left by a killed run does not count.
        left_over = temporaries()
        return (lambda: temporaries() - left_over), 0.002

    trials = [
        ("SIGKILL a random moment after the first backup", signal.SIGKILL, after_a_new_backup, 0.8),
        ("SIGKILL during a backup write", signal.SIGKILL, during_a_backup_write, 0),
        ("SIGKILL at a random moment of start-up or restore", signal.SIGKILL, None, 6.0),
        ("SIGTERM a random moment after a new backup", signal.SIGTERM, after_a_new_backup, 0.5),
    ]
    outcomes = []
    for index, (name, signal_number, make_condition, max_delay) in enumerate(trials):
        start = backup_progress(output)
        deadline = DEADLINE_FIRST + index * DEADLINE_GAP

        def past_deadline(deadline=deadline):
            return metadata_progress(output) >= deadline

        log = tmp_path / f"trial{index}.err"
        with open(log, "w") as err:
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO_ROOT, env=env)
        try:
            if make_condition is not None:
                condition, interval = make_condition(start)
                wait_for(lambda: condition() or past_deadline(), interval, process=process, timeout=120)
            # Whether the trial's own moment (not its deadline) triggered the signal.
            reached = not past_deadline()
            # A random delay, cut short at the deadline.
            wait_for(past_deadline, 0.01, process=process, timeout=rng.uniform(0, max_delay))
            assert process.poll() is None, f"{name}: the run ended before the signal (seed {seed})"
            process.send_signal(signal_number)
            status = process.wait(60)
        finally:
            if process.poll() is None:
                process.kill()
        stderr = log.read_text()
        assert not finished(output), f"{name}: the run finished before the signal (seed {seed})"
        progress = backup_progress(output)
        outcomes.append(f"{name}: signal at backup step {start}->{progress}, exit {status}, reached={reached}")
        # A backup never goes back, and a rerun resumes from the newest one.
        assert progress >= start, outcomes[-1]
        if start and make_condition is not None:  # the run got as far as training
            assert "resuming from backup at epoch" in stderr, stderr[-2000:]
        if signal_number == signal.SIGTERM:
            assert status == 128 + signal.SIGTERM, stderr[-2000:]
            stopped = [line for line in user_lines(stderr) if line.startswith("stopped: ")]
            assert len(stopped) == 1, stderr[-2000:]
            step = int(re.search(r"after step (\d+)", stopped[0]).group(1))
            assert progress == step, (stopped, progress)  # the backup is of that very step
        else:
            assert status == -signal.SIGKILL

    final = run_in_process(*argv[2:])
    print(f"kill seed {seed}:\n  " + "\n  ".join(outcomes))
    assert len(outcomes) == len(trials), outcomes
    assert final == 0
    from keras_bert_impl.model_dir import load_model_dir

    model = load_model_dir(output).model
    assert int(model.optimizer.iterations.numpy()) == STEPS, outcomes
    assert not os.path.exists(os.path.join(output, "backup"))


# Bad input.


def _write(path, text):
    mode = "wb" if isinstance(text, bytes) else "w"
    with open(path, mode) as f:
        f.write(text)
    return str(path)


def bad_input_cases(tmp_path, corpus_file):
    """(name, argv, env, expected exit status, fragment of the error line)."""
    d = tmp_path
    classifier = make_tiny_model_dir(str(d / "models" / "classifier"), "classifier")
    vocab = _write(d / "vocab.txt", "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat"]) + "\n")
    config = tiny_config(d / "tiny.json")
    impossible = _write(d / "impossible.json", json.dumps({
        **json.load(open(config)), "hidden_size": 129, "num_attention_heads": 2}))
    damaged_model = str(d / "damaged")
    os.makedirs(damaged_model)
    for name in os.listdir(classifier):
        content = open(os.path.join(classifier, name), "rb").read()
        _write(os.path.join(damaged_model, name), content[: len(content) // 3] if name == "model.keras" else content)
    damaged_backup = d / "damaged_run"
    os.makedirs(damaged_backup / "backup")
    _write(damaged_backup / "vocab.txt", open(vocab).read())
    _write(damaged_backup / "backup" / "latest.weights.h5", b"\x89HDF\r\n\x1a\n truncated")
    out = str(d / "out")
    base = ["pretrain", "--steps", "2", "--seq-len", "16", "--batch-size", "4"]
    pretrain = [*base, "--config", config]
    on_corpus = [*pretrain, "--corpus", corpus_file, "--output", out]
    evaluate = ["evaluate", "--model", classifier, "--seq-len", "16", "--data"]
    finetune = ["finetune", "--vocab", vocab, "--output", out, "--train"]
    return [
        ("missing corpus", [*pretrain, "--corpus", str(d / "nope.txt"), "--output", out], {}, 2,
         f"{d / 'nope.txt'}: no such file"),
        ("corpus glob without match", [*pretrain, "--corpus", str(d / "*.text"), "--output", out], {}, 2,
         "no file matches"),
        ("corpus is a directory", [*pretrain, "--corpus", str(d / "models"), "--output", out], {}, 2,
         "is a directory; expected a file or a glob"),
        ("empty corpus", [*pretrain, "--corpus", _write(d / "empty.txt", ""), "--output", out], {}, 2,
         "empty.txt: file is empty"),
        ("blank corpus, learning a vocab",
         [*pretrain, "--vocab-size", "50", "--corpus", _write(d / "blank.txt", "\n  \n\n"), "--output", out],
         {}, 2, "blank.txt: no words to learn a vocabulary from"),
        ("blank corpus, given a vocab",
         [*pretrain, "--vocab", vocab, "--corpus", str(d / "blank.txt"), "--output", out], {}, 2,
         "blank.txt gives no training example"),
        ("missing train file", [*finetune, str(d / "train.tsv"), "--eval", str(d / "train.tsv")], {}, 2,
         "train.tsv: no such file"),
        ("TSV without the text column", [*evaluate, _write(d / "nocol.tsv", "sentence\tlabel\na cat\tneutral\n")],
         {}, 2, "nocol.tsv:1: the header has no column 'text'; its columns are ['sentence', 'label']"),
        ("ragged TSV row", [*evaluate, _write(d / "ragged.tsv", "text\tlabel\na cat\tneutral\nthe\tneutral\tx\n")],
         {}, 2, "ragged.tsv:3: 3 fields, but the header has 2 (text, label)"),
        ("unknown label at eval", [*evaluate, _write(d / "unknown.tsv", "text\tlabel\na cat\tmaybe\n")], {}, 2,
         "unknown.tsv:2: column 'label': unknown label 'maybe'; expected one of "
         "['negative', 'neutral', 'positive'] or an id below 3"),
        ("label id beyond num_classes", [*evaluate, _write(d / "bigid.tsv", "text\tlabel\na cat\t1\nthe cat\t3\n")],
         {}, 2, "bigid.tsv:3: column 'label': unknown label '3'"),
        ("vocab without special tokens",
         [*pretrain, "--vocab", _write(d / "nospecial.txt", "[PAD]\n[UNK]\nthe\n"), "--corpus", corpus_file,
          "--output", out], {}, 2, "nospecial.txt' lacks the special tokens ['[CLS]', '[SEP]', '[MASK]']"),
        ("vocab not UTF-8",
         [*pretrain, "--vocab", _write(d / "latin1.txt", b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ncaf\xe9\n"),
          "--corpus", corpus_file, "--output", out], {}, 2, "latin1.txt': line 6: byte 0xe9 is not valid UTF-8"),
        ("a flag of another task", [*finetune, corpus_file, "--eval", corpus_file, "--task",
                                    "token_classification", "--pooling", "mean"], {}, 2,
         "--pooling is a classification flag; this run is token_classification: drop it."),
        ("missing vocab", [*finetune, corpus_file, "--vocab", str(d / "novocab.txt")], {}, 2,
         "novocab.txt' does not exist"),
        ("config with impossible sizes",
         [*base, "--config", impossible, "--vocab", vocab, "--corpus", corpus_file, "--output", out],
         {}, 2, "hidden_size=129 must be divisible by num_heads=2"),
        ("config not JSON",
         [*base, "--config", _write(d / "bad.json", "{hidden_size: 1"), "--vocab", vocab,
          "--corpus", corpus_file, "--output", out], {}, 2, "bad.json: not valid JSON"),
        ("--seq-len beyond max positions",
         ["pretrain", "--steps", "2", "--seq-len", "65", "--config", config, "--vocab", vocab,
          "--corpus", corpus_file, "--output", out], {}, 2,
         "--seq-len 65 exceeds the model's max_position_embeddings (64)"),
        ("--seq-len beyond max positions at eval", [*evaluate, str(d / "bigid.tsv"), "--seq-len", "513"], {}, 2,
         "--seq-len 513 exceeds the model's max_position_embeddings (512)"),
        ("batch not divisible by replicas",
         [*on_corpus, "--vocab", vocab, "--batch-size", "7", "--strategy", "mirrored"], {}, 2,
         "Global batch size 7 is not divisible by the 2 replicas of MirroredStrategy"),
        ("malformed TF_CONFIG", [*on_corpus, "--vocab", vocab], {"TF_CONFIG": "{cluster:"}, 2,
         "TF_CONFIG is not valid JSON"),
        ("TF_CONFIG task index out of range", [*on_corpus, "--vocab", vocab, "--strategy", "multi_worker"],
         {"TF_CONFIG": json.dumps({"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 2}})},
         2, "TF_CONFIG field 'task.index' is 2"),
        ("missing model dir", ["evaluate", "--model", str(d / "nomodel"), "--data", str(d / "bigid.tsv")], {}, 2,
         "Model directory not found"),
        ("truncated model.keras", ["evaluate", "--model", damaged_model, "--data", str(d / "bigid.tsv")], {}, 2,
         "model.keras: not a .keras archive (truncated or corrupted)"),
        ("damaged backup, no previous one",
         [*pretrain, "--corpus", corpus_file, "--output", str(damaged_backup)], {}, 2,
         "no usable backup to resume from: " + str(damaged_backup / "backup" / "latest.weights.h5")),
        ("NaN loss from a huge learning rate",
         [*on_corpus, "--vocab", vocab, "--learning-rate", "1e30", "--warmup-ratio", "0", "--steps", "6"], {}, 3,
         "--learning-rate"),
    ]


def test_bad_input_gives_one_error_line_and_a_distinct_status(tmp_path, corpus_file):
    cases = bad_input_cases(tmp_path, corpus_file)
    cases_file, results_file = tmp_path / "cases.json", tmp_path / "results.json"
    cases_file.write_text(json.dumps([{"argv": argv, "env": env} for _, argv, env, _, _ in cases]))
    script = os.path.join(os.path.dirname(__file__), "run_cli_cases.py")
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    done = subprocess.run([sys.executable, script, str(cases_file), str(results_file)],
                          capture_output=True, text=True, timeout=400, cwd=REPO_ROOT,
                          env={**os.environ, "TMPDIR": str(scratch)})
    assert done.returncode == 0, done.stderr[-3000:]
    # The blank corpus fails while its vocabulary is learned.
    assert not list(scratch.glob("vocab-*")), "a failed run left its vocabulary folder behind"
    failures = []
    for (name, _, _, status, fragment), result in zip(cases, json.loads(results_file.read_text())):
        lines = user_lines(result["stderr"])
        ok = (result["status"] == status and len(lines) == 1 and lines[0].startswith("error: ")
              and fragment in lines[0])
        if not ok:
            failures.append(f"{name}: exit {result['status']}, stderr lines {lines[-12:]}")
    assert not failures, "\n".join(failures)


def test_a_real_process_prints_only_the_error_line(tmp_path):
    done = run_cli("finetune", "--train", str(tmp_path / "train.tsv"), "--eval", str(tmp_path / "x.tsv"),
                   "--vocab", str(tmp_path / "vocab.txt"), "--output", str(tmp_path / "out"), timeout=120)
    assert done.returncode == 2
    assert user_lines(done.stderr) == [f"error: vocabulary file '{tmp_path / 'vocab.txt'}' does not exist"]
