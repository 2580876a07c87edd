"""`train_tf.py report`: a model directory's training curves and metrics as report.html."""


def register(subparsers):
    parser = subparsers.add_parser(
        "report",
        help="write report.html (and PNGs) with curves, metrics and config of a model directory",
        description=(
            "Draws the training and validation curves (history.json), per-class precision/"
            "recall/F1 and the confusion matrix of a classifier or per-type F1 of a token "
            "classifier (metrics.json), and lists the model's configuration, into "
            "report.html and PNG files next to the model. Needs matplotlib."
        ),
    )
    parser.add_argument("--model", required=True, help="model directory (from pretrain or finetune)")
    parser.add_argument("--output", help="folder to write into (default: the model directory)")
    parser.set_defaults(run=run)


def run(args):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "report needs matplotlib: pip install matplotlib (or the package's [report] extra)."
        ) from None
    from keras_bert_impl.run_report import write_report

    print(f"wrote {write_report(args.model, args.output)}")
    return 0
