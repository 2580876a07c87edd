"""A training run's folder appears only when training starts; progress shows off a terminal."""

import keras
import numpy as np

from keras_bert_impl.cli import build_parser, run_guarded
from keras_bert_impl.cli.common import start_output
from keras_bert_impl.training.progress import PeriodicProgress


def _main(*argv):
    args = build_parser("", list(argv)).parse_args(list(argv))
    return run_guarded(args.run, args)


def test_a_run_that_fails_before_training_leaves_no_output(tmp_path, capsys):
    data = tmp_path / "train.tsv"
    data.write_text("sentence\tlabel\na cat\tpos\n")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "cat"]) + "\n")
    output = tmp_path / "run"
    status = _main("finetune", "--vocab", str(vocab), "--train", str(data), "--eval", str(data),
                   "--output", str(output))
    assert status == 2
    assert "Pass --text-column sentence" in capsys.readouterr().err
    assert not output.exists()


def test_replacing_a_finished_model_is_announced(tmp_path, capsys):
    finished = tmp_path / "run"
    finished.mkdir()
    (finished / "model.keras").write_bytes(b"")
    start_output(str(finished))
    assert "holds a finished model" in capsys.readouterr().out
    (finished / "backup").mkdir()  # a killed run: resuming is not replacing
    start_output(str(finished))
    assert capsys.readouterr().out == ""
    start_output(str(tmp_path / "new"))
    assert (tmp_path / "new").is_dir()


def test_pretrain_keeps_the_vocabulary_of_a_backup_only(tmp_path):
    # A finished model is trained over: on a vocabulary learned anew, so a
    # changed --vocab-size, --corpus or --cased takes effect.
    from keras_bert_impl.cli.pretrain import _resumed_vocab

    output = tmp_path / "run"
    assert _resumed_vocab(str(output)) is None
    output.mkdir()
    (output / "vocab.txt").write_text("[PAD]\n")
    assert _resumed_vocab(str(output)) is None
    (output / "backup").mkdir()
    assert _resumed_vocab(str(output)) == str(output / "vocab.txt")


def test_periodic_progress_prints_step_loss_and_speed(capsys):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 2), "float32"), np.ones((8, 1), "float32")
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[PeriodicProgress(seconds=0)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("  epoch 1 step 4/4: loss ") and lines[-1].endswith(" steps/s")
    assert len(lines) == 4
