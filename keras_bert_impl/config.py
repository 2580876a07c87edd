"""`BertConfig`: every size of a BERT model, its presets and its JSON forms.

One config object flows everywhere (model building, conversion, training,
export), so no size is written twice. The JSON form uses the Hugging Face
`config.json` keys, which are also the keys of the original Google
`bert_config.json`, so a config read from either source round-trips.

Example:

>>> config = BertConfig.preset("bert_tiny", vocab_size=1000)
>>> config.num_heads
2
>>> BertConfig.from_dict(config.to_dict()) == config
True
"""

import dataclasses
import json

from keras_bert_impl.io_utils import write_text_atomically

# Activations this package implements, with the spellings other libraries use
# for them. Original BERT uses the exact (erf) GELU.
ACTIVATIONS = ("gelu", "gelu_approximate", "relu")
_ACTIVATION_ALIASES = {
    "gelu": "gelu",
    "gelu_python": "gelu",
    "gelu_approximate": "gelu_approximate",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
}

# Hugging Face config.json key for each field; Google's bert_config.json uses
# the same names.
_HF_KEYS = {
    "vocab_size": "vocab_size",
    "hidden_size": "hidden_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
    "max_position_embeddings": "max_position_embeddings",
    "type_vocab_size": "type_vocab_size",
    "hidden_dropout": "hidden_dropout_prob",
    "attention_dropout": "attention_probs_dropout_prob",
    "hidden_act": "hidden_act",
    "layer_norm_eps": "layer_norm_eps",
    "initializer_range": "initializer_range",
}

# (num_layers, hidden_size) of the BERT family; heads = H/64, intermediate = 4H.
_PRESET_SIZES = {
    "bert_tiny": (2, 128),
    "bert_mini": (4, 256),
    "bert_small": (4, 512),
    "bert_medium": (8, 512),
    "bert_base": (12, 768),
    "bert_large": (24, 1024),
}
PRESETS = tuple(_PRESET_SIZES)


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Sizes and hyper-parameters of a BERT encoder.

    Args:
        vocab_size: number of WordPiece tokens.
        hidden_size: width of every hidden state.
        num_layers: number of transformer blocks.
        num_heads: attention heads; must divide `hidden_size`.
        intermediate_size: width of the feed-forward inner layer.
        max_position_embeddings: longest sequence the model accepts.
        type_vocab_size: number of segment ids (2 for sentence pairs).
        hidden_dropout: dropout rate on embeddings and block outputs.
        attention_dropout: dropout rate on the attention probabilities.
        hidden_act: `"gelu"` (exact erf, as original BERT),
            `"gelu_approximate"` (tanh form, as keras-hub) or `"relu"`.
        layer_norm_eps: epsilon of every LayerNorm.
        initializer_range: stddev of the truncated-normal initialiser.

    Raises:
        ValueError: naming the field, when a size is not a positive integer,
            a rate is outside [0, 1), the activation is unknown or
            `hidden_size` is not divisible by `num_heads`.
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02

    def __post_init__(self):
        for name in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"BertConfig.{name} must be a positive integer, got {value!r}."
                )
        for name in ("hidden_dropout", "attention_dropout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(
                    f"BertConfig.{name} must be a rate in [0, 1), got {value!r}."
                )
        for name in ("layer_norm_eps", "initializer_range"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(
                    f"BertConfig.{name} must be a positive number, got {value!r}."
                )
        if self.hidden_act not in _ACTIVATION_ALIASES:
            raise ValueError(
                f"BertConfig.hidden_act={self.hidden_act!r} is not supported; "
                f"expected one of {sorted(_ACTIVATION_ALIASES)}."
            )
        # Store the canonical spelling so equal models compare equal.
        object.__setattr__(
            self, "hidden_act", _ACTIVATION_ALIASES[self.hidden_act]
        )
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"BertConfig.hidden_size={self.hidden_size} must be divisible by "
                f"num_heads={self.num_heads}."
            )

    @property
    def head_size(self):
        """Width of one attention head."""
        return self.hidden_size // self.num_heads

    @classmethod
    def preset(cls, name, **overrides):
        """Returns a preset of the BERT family, optionally with overrides.

        Args:
            name: one of `PRESETS` (`bert_tiny`, `bert_mini`, `bert_small`,
                `bert_medium`, `bert_base`, `bert_large`).
            **overrides: fields to change, e.g. `vocab_size=8000`.

        Example:

        >>> BertConfig.preset("bert_small").intermediate_size
        2048
        """
        if name not in _PRESET_SIZES:
            raise ValueError(
                f"Unknown BERT preset {name!r}; expected one of {list(PRESETS)}."
            )
        num_layers, hidden_size = _PRESET_SIZES[name]
        fields = dict(
            num_layers=num_layers,
            hidden_size=hidden_size,
            num_heads=hidden_size // 64,
            intermediate_size=4 * hidden_size,
        )
        fields.update(overrides)
        return cls(**fields)

    def replace(self, **changes):
        """Returns a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """Returns the fields as a plain dict (this package's own keys)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Builds a config from `to_dict()` output; unknown keys are errors."""
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"Unknown BertConfig fields: {unknown}.")
        return cls(**values)

    def to_huggingface_dict(self):
        """Returns the Hugging Face `config.json` form of this config."""
        values = {hf_key: getattr(self, name) for name, hf_key in _HF_KEYS.items()}
        values["hidden_act"] = (
            "gelu_pytorch_tanh"
            if self.hidden_act == "gelu_approximate"
            else self.hidden_act
        )
        values.update(model_type="bert", architectures=["BertForPreTraining"])
        return values

    @classmethod
    def from_huggingface_dict(cls, values, source="config"):
        """Reads Hugging Face / Google BERT config keys.

        Keys that do not describe the encoder (`architectures`, `pad_token_id`,
        ...) are ignored; a missing size is an error naming the key.

        Args:
            values: the parsed JSON object.
            source: where it came from, for error messages.
        """
        model_type = values.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(
                f"{source}: model_type is {model_type!r}, expected 'bert'."
            )
        position_type = values.get("position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError(
                f"{source}: position_embedding_type={position_type!r} is not "
                "supported; expected 'absolute'."
            )
        fields = {}
        for name, hf_key in _HF_KEYS.items():
            if hf_key in values:
                fields[name] = values[hf_key]
            elif name in ("layer_norm_eps",):
                # Google's bert_config.json omits it; BERT used 1e-12.
                continue
            elif name in ("hidden_dropout", "attention_dropout", "initializer_range"):
                continue
            else:
                raise ValueError(f"{source}: missing key {hf_key!r}.")
        return cls(**fields)

    @classmethod
    def from_json_file(cls, path):
        """Reads a Hugging Face `config.json` or Google `bert_config.json`."""
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"BERT config file not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not valid JSON ({e}).") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a JSON object.")
        return cls.from_huggingface_dict(values, source=str(path))

    def save_json_file(self, path):
        """Writes the Hugging Face `config.json` form, atomically."""
        write_text_atomically(
            path, json.dumps(self.to_huggingface_dict(), indent=2) + "\n"
        )

