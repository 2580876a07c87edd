"""Draws the README's pictures of a training report and of an explanation.

    python train_tf.py                  # the main job: runs/default/classifier
    python tools/make_readme_pictures.py --model runs/default/classifier --output docs

Writes OUTPUT/report_curves.png and OUTPUT/report_confusion.png (from
`train_tf.py report`) and OUTPUT/explanation.png (`explain` on the main job's
sample texts).
"""

import argparse
import os
import shutil
import sys
import tempfile

from keras_bert_impl.cli.default_job import SAMPLE_TEXTS
from keras_bert_impl.explanation_views import write_explanation_png
from keras_bert_impl.explanations import explain
from keras_bert_impl.model_dir import load_model_dir
from keras_bert_impl.run_report import CONFUSION_PNG, CURVES_PNG, write_report


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a fine-tuned classifier's model directory")
    parser.add_argument("--output", default="docs", help="folder for the PNGs (default docs)")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    with tempfile.TemporaryDirectory() as report_dir:
        write_report(args.model, report_dir)
        for name in (CURVES_PNG, CONFUSION_PNG):
            shutil.copyfile(os.path.join(report_dir, name), os.path.join(args.output, name))
    loaded = load_model_dir(args.model, compile=False)
    explanations = explain(loaded.model, loaded.tokenizer, list(SAMPLE_TEXTS), label_names=loaded.label_names)
    write_explanation_png(os.path.join(args.output, "explanation.png"), explanations)
    print(f"wrote {CURVES_PNG}, {CONFUSION_PNG} and explanation.png to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
