"""Fine-tuned checkpoints in: QA and classification heads equal to transformers' to 1e-5."""

import numpy as np
import pytest

from support.hf import random_hf_model, torch, transformers
from support.parity import bert_batch, encoder_inputs, max_error
from test_google import HF_CONFIG, _google_name, write_google_release

from keras_bert_impl import BertClassifier, BertConfig, BertQuestionAnswerer, bert_backbone
from keras_bert_impl.convert.task_heads import load_google_task, load_huggingface_task, save_huggingface_task

GOOGLE_HEADS = {
    "qa_outputs.weight": "cls/squad/output_weights",
    "qa_outputs.bias": "cls/squad/output_bias",
    "classifier.weight": "output_weights",
    "classifier.bias": "output_bias",
}


def _hf_logits(model, batch):
    with torch.no_grad():
        outputs = model(
            input_ids=torch.tensor(batch["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(batch["padding_mask"], dtype=torch.long),
        )
    if hasattr(outputs, "start_logits"):
        return {"start_logits": outputs.start_logits.numpy(), "end_logits": outputs.end_logits.numpy()}
    return {"logits": outputs.logits.numpy()}


def _our_logits(model, batch):
    outputs = model.predict_on_batch(encoder_inputs(batch))
    return outputs if isinstance(outputs, dict) else {"logits": outputs}


def _google_tensors_with_head(hf_model):
    """run_squad / run_classifier names; both store the head [outputs, hidden] as torch does."""
    tensors = {}
    for name, tensor in hf_model.state_dict().items():
        if name in GOOGLE_HEADS:
            tensors[GOOGLE_HEADS[name]] = tensor.numpy()
        elif not name.endswith("position_ids"):
            google_name, transpose = _google_name(name)
            tensors[google_name] = tensor.numpy().T if transpose else tensor.numpy()
    return tensors


CASES = [
    (transformers.BertForQuestionAnswering, {}, BertQuestionAnswerer),
    (transformers.BertForSequenceClassification, {"num_labels": 3}, BertClassifier),
]


@pytest.mark.parametrize("hf_class, extra, expected_class", CASES)
def test_huggingface_and_google_task_checkpoints_match_transformers(tmp_path, hf_class, extra, expected_class):
    hf_model = random_hf_model(hf_class, {**HF_CONFIG, **extra})
    batch = bert_batch(HF_CONFIG["vocab_size"])
    expected = _hf_logits(hf_model, batch)
    hf_model.save_pretrained(tmp_path / "hf")
    google_folder = write_google_release(tmp_path / "google", hf_model, _google_tensors_with_head(hf_model))
    for model in (load_huggingface_task(str(tmp_path / "hf")), load_google_task(str(google_folder))):
        assert type(model) is expected_class
        ours = _our_logits(model, batch)
        assert sorted(ours) == sorted(expected)
        for name, value in ours.items():
            assert max_error(value, expected[name]) < 1e-5, name


def test_a_mean_pooling_classifier_has_no_hugging_face_form(tmp_path):
    backbone = bert_backbone(BertConfig.preset("bert_tiny", vocab_size=30))
    with pytest.raises(ValueError, match="pooling='mean' has no Hugging Face form"):
        save_huggingface_task(BertClassifier(backbone, num_classes=2, pooling="mean"), str(tmp_path / "hf"))
    assert not (tmp_path / "hf").exists()


def test_checkpoint_without_a_task_head_is_named(tmp_path):
    hf_model = random_hf_model(transformers.BertForPreTraining, HF_CONFIG)
    hf_model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"expected exactly one task head, one of \['qa_outputs.weight'"):
        load_huggingface_task(str(tmp_path))


def test_regression_head_is_refused(tmp_path):
    hf_model = random_hf_model(transformers.BertForSequenceClassification, {**HF_CONFIG, "num_labels": 1})
    hf_model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"classifier.weight has 1 output"):
        load_huggingface_task(str(tmp_path))


def test_convert_cli_and_finetune_init_take_fine_tuned_checkpoints(tmp_path):
    from keras_bert_impl import cli
    from keras_bert_impl.cli.finetune import load_initial_backbone
    from keras_bert_impl.model_dir import load_model_dir

    hf_model = random_hf_model(transformers.BertForQuestionAnswering, HF_CONFIG)
    folder = write_google_release(tmp_path / "uncased_squad", hf_model, _google_tensors_with_head(hf_model))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = specials + [f"t{i}" for i in range(HF_CONFIG["vocab_size"] - len(specials))]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    args = cli.build_parser("").parse_args(["convert", "--from", "google", "--to", "keras", str(folder),
                                            str(tmp_path / "converted")])
    assert cli.run_guarded(args.run, args) == 0
    converted = load_model_dir(str(tmp_path / "converted"), compile=False).model
    assert type(converted) is BertQuestionAnswerer
    batch = bert_batch(HF_CONFIG["vocab_size"])
    assert max_error(_our_logits(converted, batch)["start_logits"], _hf_logits(hf_model, batch)["start_logits"]) < 1e-5

    hf_model.save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "vocab.txt").write_text((folder / "vocab.txt").read_text())
    backbone, _, _ = load_initial_backbone(str(tmp_path / "hf"), None, None, None)
    assert backbone.config.hidden_size == HF_CONFIG["hidden_size"]
