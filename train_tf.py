#!/usr/bin/env python
"""Command line of keras_bert_impl: pretrain | finetune | evaluate | export |
predict | fill-mask | convert. With no arguments it runs the main job on the
embedded offline data. `python train_tf.py --help` lists the commands and
`python train_tf.py COMMAND --help` explains each flag."""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv):
    from keras_bert_impl import cli
    from keras_bert_impl.cli import default_job

    if not argv:
        return default_job.run(cli.build_parser, cli.run_guarded)
    parser = cli.build_parser(default_job.DESCRIPTION)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return cli.run_guarded(args.run, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
