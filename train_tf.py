#!/usr/bin/env python
"""Command line of keras_bert_impl: pretrain | finetune | evaluate | export |
predict | fill-mask | convert. With no arguments it runs the main job on the
embedded offline data. `python train_tf.py --help` lists the commands and
`python train_tf.py COMMAND --help` explains each flag.

Arguments are parsed before TensorFlow is imported, so help and flag errors
come at once; TensorFlow's start-up messages are hidden unless `--verbose`
or KERAS_BERT_VERBOSE=1 (see keras_bert_impl/cli/tf_logs.py)."""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def main(argv):
    from keras_bert_impl import cli
    from keras_bert_impl.cli import default_job, tf_logs

    if not argv:
        tf_logs.import_tensorflow_quietly()
        return default_job.run(cli.build_parser, cli.run_guarded)
    # Before parsing: building a subcommand's flags may import TensorFlow.
    verbose = "--verbose" in argv
    with tf_logs.start_up_quietly(verbose):
        parser = cli.build_parser(default_job.DESCRIPTION, argv)
        args = parser.parse_args(argv)
        if getattr(args, "run", None):
            tf_logs.import_tensorflow_quietly(verbose)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return cli.run_guarded(args.run, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
