"""`train_tf.py convert`: checkpoints of other formats <-> this package's model directory.

    train_tf.py convert --from hf --to keras downloads/bert-base-uncased runs/bert_base
    train_tf.py convert --from google --to keras uncased_L-12_H-768_A-12 runs/bert_base
    train_tf.py convert --from keras_hub --to keras hub_preset/ runs/from_hub
    train_tf.py convert --from keras --to hf runs/pretrain exported/hf_model

`--to keras` writes a model directory (config.json, vocab.txt,
tokenizer_config.json, model.keras, model.weights.h5) that `finetune --init`,
`fill-mask`, `export`, ... take as it is. Nothing is downloaded: SRC is
always a local folder. TensorFlow-side modules are imported in the functions
that run the command, so that `convert --help` answers at once.
"""

import json
import os
import warnings

from keras_bert_impl.io_utils import atomic_path, write_text_atomically

SOURCES = ("hf", "google", "keras_hub", "keras")
TARGETS = ("keras", "hf", "google", "keras_hub")


def register(subparsers):
    parser = subparsers.add_parser(
        "convert",
        help="convert Hugging Face / Google / keras-hub checkpoints to a model directory and back",
        description=(
            "Reads a local checkpoint folder SRC in one format and writes DST in another. "
            "--to keras writes a model directory the other subcommands accept (a "
            "pretrainer with its MLM/NSP heads; a checkpoint without an MLM head gets a "
            "newly initialised one). Weights are mapped tensor by tensor; a missing or "
            "unknown tensor is an error naming it. See docs/CONVERT.md."
        ),
    )
    parser.add_argument(
        "--from", dest="source_format", choices=SOURCES, required=True,
        help="format of SRC: hf (config.json + model.safetensors or pytorch_model.bin), "
        "google (bert_config.json + bert_model.ckpt.* of the original TF1 release), "
        "keras_hub (a folder written by keras-hub save_to_preset), keras (a model "
        "directory of this package)",
    )
    parser.add_argument(
        "--to", dest="target_format", choices=TARGETS, required=True,
        help="format of DST: keras (model directory), hf (transformers "
        "BertForPreTraining folder), google (TF1 release folder), keras_hub (preset folder)",
    )
    parser.add_argument(
        "src", metavar="SRC", help="source folder (for google, a checkpoint prefix also works)"
    )
    parser.add_argument("dst", metavar="DST", help="folder to create; it must not exist")
    casing = parser.add_mutually_exclusive_group()
    casing.add_argument(
        "--lowercase", dest="lowercase", action="store_const", const=True, default=None,
        help="the vocabulary is uncased (default: hf/keras: tokenizer_config.json "
        "do_lower_case; google: 'uncased'/'cased' in the folder name, else the vocabulary; "
        "keras_hub: the preset tokenizer's lowercase)",
    )
    casing.add_argument(
        "--cased", dest="lowercase", action="store_const", const=False,
        help="the vocabulary is cased (keeps case and accents)",
    )
    parser.add_argument(
        "--vocab", help="vocab.txt to use when SRC has none (e.g. a keras-hub backbone "
        "preset saved without its tokenizer), or instead of SRC's",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(run=run)


def run(args):
    if args.source_format == args.target_format == "keras":
        raise ValueError("--from keras --to keras: nothing to convert; copy the folder instead.")
    if os.path.exists(args.dst):
        raise FileExistsError(f"DST {args.dst} already exists; choose a new folder.")
    model, vocab_file, lowercase, seq_len, label_names = _read_source(args.source_format, args.src)
    if args.vocab:
        vocab_file = args.vocab
    if args.lowercase is not None:
        lowercase = args.lowercase
    if vocab_file is not None:
        _check_vocab(vocab_file, model)
        if lowercase is None and args.target_format in ("keras", "keras_hub"):
            raise ValueError(f"Cannot tell whether {args.src} is cased; pass --lowercase or --cased.")
    written, untrained_heads = _write_target(
        args.target_format, model, args.dst, vocab_file, lowercase, seq_len, args.src, label_names
    )
    summary = {
        "source": os.path.abspath(args.src),
        "source_format": args.source_format,
        "destination": os.path.abspath(args.dst),
        "destination_format": args.target_format,
        "model": written,
        "untrained_heads": list(untrained_heads),
        "nsp": bool(getattr(model, "nsp", False)),
        "vocab_file": vocab_file,
        "lowercase": lowercase,
        "config": getattr(model, "backbone", model).config.to_dict(),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        config = summary["config"]
        print(
            f"converted {args.source_format} {args.src} -> {args.target_format} {args.dst}: "
            f"{summary['model']}{' with NSP' if summary['nsp'] else ''}, "
            f"{config['num_layers']} layers, hidden {config['hidden_size']}, "
            f"vocab {config['vocab_size']}, hidden_act {config['hidden_act']}, "
            f"lowercase {lowercase}"
            + (f", untrained heads {untrained_heads}" if untrained_heads else "")
        )
    return 0


def _read_source(source_format, src):
    """Returns `(model, vocab_file or None, lowercase or None, seq_len, label_names or None)`.

    A Hugging Face folder with a fine-tuning head (`classifier.*`,
    `qa_outputs.*`) loads as the task model, with `id2label` as label names.

    Released checkpoints trained every position (BERT's last pretraining
    phase runs at 512), so their length is `max_position_embeddings`.
    """
    from keras_bert_impl.convert.google import (
        VOCAB_FILE as GOOGLE_VOCAB_FILE,
        find_checkpoint,
        infer_lowercase,
        load_google_checkpoint,
    )
    from keras_bert_impl.convert.huggingface import (
        load_huggingface,
        load_huggingface_pretrainer,
        read_huggingface_tensors,
    )
    from keras_bert_impl.convert.keras_hub import load_keras_hub_preset
    from keras_bert_impl.convert.task_heads import (
        has_google_task_head,
        huggingface_label_names,
        load_google_task,
        load_huggingface_task,
    )
    from keras_bert_impl.model_dir import load_model_dir, read_lowercase

    if source_format == "keras":
        loaded = load_model_dir(src, compile=False)
        return loaded.model, loaded.vocab_file, loaded.lowercase, loaded.seq_len, loaded.label_names
    label_names = None
    if source_format == "hf":
        tensors = read_huggingface_tensors(src)
        has_mlm = any(name.startswith("cls.predictions.") for name in tensors)
        has_task_head = any(name in tensors for name in ("classifier.weight", "qa_outputs.weight"))
        del tensors
        if has_task_head:
            model = load_huggingface_task(src)
            label_names = huggingface_label_names(src) if hasattr(model, "num_classes") else None
        else:
            model = load_huggingface_pretrainer(src) if has_mlm else load_huggingface(src)
        vocab_file, lowercase = _file_or_none(src, "vocab.txt"), read_lowercase(src)
    elif source_format == "google":
        # run_squad.py / run_classifier.py output: the task model with its head.
        model = load_google_task(src) if has_google_task_head(src) else load_google_checkpoint(src)
        folder = os.path.dirname(find_checkpoint(src))
        vocab_file = _file_or_none(folder, GOOGLE_VOCAB_FILE)
        try:
            lowercase = infer_lowercase(src if os.path.isdir(src) else folder)
        except FileNotFoundError:
            lowercase = None  # asked for below, only if a target needs it
    else:
        model, vocab_file, lowercase = load_keras_hub_preset(src)
    return model, vocab_file, lowercase, getattr(model, "backbone", model).config.max_position_embeddings, label_names


def _file_or_none(folder, name):
    path = os.path.join(folder, name)
    return path if os.path.isfile(path) else None


def _check_vocab(vocab_file, model):
    from keras_bert_impl.text import Tokenizer

    tokenizer = Tokenizer(vocab_file)  # ValueError/FileNotFoundError naming the file
    vocab_size = getattr(model, "backbone", model).config.vocab_size
    if tokenizer.vocab_size > vocab_size:
        raise ValueError(
            f"{vocab_file} has {tokenizer.vocab_size} tokens but the model's vocab_size "
            f"is {vocab_size}; ids past {vocab_size - 1} would have no embedding."
        )


def _write_target(target_format, model, dst, vocab_file, lowercase, seq_len, src, label_names):
    """Writes DST; returns `(the class of what was written, untrained head names)`.

    The class is the one a reader of DST gets: the model directory's Keras
    class, or the `architectures` entry of a Hugging Face config.json.
    """
    from keras_bert_impl.convert.google import save_google_checkpoint
    from keras_bert_impl.convert.huggingface import save_huggingface
    from keras_bert_impl.convert.keras_hub import save_keras_hub_preset
    from keras_bert_impl.convert.task_heads import save_huggingface_task
    from keras_bert_impl.model_dir import MLM_HEAD, save_model_dir
    from keras_bert_impl.models import BertBackbone, BertPretrainer

    if target_format == "keras":
        if vocab_file is None:
            raise ValueError(
                f"{src} has no vocabulary; a model directory needs one: pass --vocab vocab.txt."
            )
        untrained_heads = ()
        if isinstance(model, BertBackbone):
            warnings.warn(
                f"{src} has no masked-LM head; the model directory gets a newly "
                "initialised one, recorded as untrained (fine for fine-tuning; "
                "fill-mask refuses it).",
                stacklevel=2,
            )
            model, untrained_heads = BertPretrainer(model), (MLM_HEAD,)
        with atomic_path(dst) as temp:
            save_model_dir(
                temp, model, vocab_file, lowercase, seq_len=seq_len, label_names=label_names,
                untrained_heads=untrained_heads,
            )
        return type(model).__name__, untrained_heads
    if target_format == "hf":
        with atomic_path(dst) as temp:
            if hasattr(model, "backbone") and not hasattr(model, "mlm_head"):
                save_huggingface_task(model, temp, vocab_file=vocab_file, label_names=label_names)
            else:
                save_huggingface(model, temp, vocab_file=vocab_file)
            if lowercase is not None:
                write_text_atomically(
                    os.path.join(temp, "tokenizer_config.json"),
                    json.dumps(
                        {"do_lower_case": lowercase, "tokenizer_class": "BertTokenizer"}
                    )
                    + "\n",
                )
        with open(os.path.join(dst, "config.json"), encoding="utf-8") as f:
            return json.load(f)["architectures"][0], ()
    model = _without_task_head(model)
    if target_format == "google":
        save_google_checkpoint(model, dst, vocab_file=vocab_file)
    else:
        save_keras_hub_preset(model, dst, vocab_file=vocab_file, lowercase=lowercase)
    return type(model).__name__, ()


def _without_task_head(model):
    if hasattr(model, "backbone") and not hasattr(model, "mlm_head"):
        warnings.warn(
            "The target format has no place for this package's classification head; "
            "only the backbone is written.",
            stacklevel=3,
        )
        return model.backbone
    return model
