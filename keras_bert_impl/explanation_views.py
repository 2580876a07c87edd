"""Shows `explain` results: shaded words in a terminal, a self-contained HTML heatmap.

Green words pushed the model toward the explained label, red words away from
it; the stronger the colour, the larger the attribution relative to the
text's largest one.

Example:

>>> print(format_explanation(explain(model, tokenizer, "a great film")))  # doctest: +SKIP
pos (logit 2.10, baseline -0.30)
  a great film
  +1.73 great
  +0.52 film
  +0.12 a
"""

import html

from keras_bert_impl.io_utils import atomic_path, write_text_atomically

# RGB of the strongest attribution toward / away from the label.
TOWARD = (46, 160, 67)
AWAY = (207, 34, 46)


def _strength(explanation):
    """(largest absolute word attribution, or 1 when all are zero)."""
    return max((abs(w["attribution"]) for w in explanation["words"]), default=0.0) or 1.0


def _shade(attribution, strength):
    """(r, g, b) blended from white toward TOWARD or AWAY."""
    colour = TOWARD if attribution >= 0 else AWAY
    share = min(abs(attribution) / strength, 1.0)
    return tuple(round(255 + (c - 255) * share) for c in colour)


# Completeness error above which the views say the integral is too coarse.
COMPLETENESS_TOLERANCE = 0.05


def _heading(explanation):
    entity = f" {explanation['entity']!r}" if "entity" in explanation else ""
    return (
        f"{explanation['label']}{entity} (logit {explanation['logit']:.2f}, "
        f"baseline {explanation['baseline_logit']:.2f})"
    )


def flat_explanations(results):
    """One explanation per label or entity, from `explain` results of either model kind."""
    flat = []
    for result in results:
        flat.extend(result.get("entities", [result]))
    return flat


def completeness_warning(explanation):
    """A note when the attributions miss more than 5% of the logit change, else None."""
    change = explanation["logit"] - explanation["baseline_logit"]
    if abs(explanation["delta"]) <= COMPLETENESS_TOLERANCE * abs(change):
        return None
    return (
        f"note: the attributions sum to {change + explanation['delta']:.3f}, not the logit change "
        f"{change:.3f}; the model changes sharply along the path: use more steps"
    )


def format_explanation(explanation, color=False, top=10):
    """The label, the words (shaded with `color`, an ANSI terminal) and the `top` words ranked.

    Args:
        explanation: one result of `explain`.
        color: shade each word's background with 24-bit ANSI colours.
        top: how many words to rank, largest attribution first.

    Returns:
        Lines joined by newlines, without a final one.
    """
    strength = _strength(explanation)
    words = explanation["words"]
    if color:
        shaded = " ".join(
            "\x1b[48;2;{};{};{}m\x1b[30m{}\x1b[0m".format(*_shade(w["attribution"], strength), w["word"])
            for w in words
        )
    else:
        shaded = " ".join(w["word"] for w in words)
    ranked = sorted(words, key=lambda w: -w["attribution"])[:top]
    lines = [_heading(explanation), f"  {shaded}"]
    lines += [f"  {w['attribution']:+.3f} {w['word']}" for w in ranked]
    warning = completeness_warning(explanation)
    return "\n".join(lines + ([f"  {warning}"] if warning else []))


_STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
section { margin-bottom: 1.5em; }
h2 { font-size: 1em; font-weight: normal; color: #555; }
.words span { padding: 0.1em 0.2em; margin: 0 0.05em; border-radius: 0.2em; line-height: 1.9; }
.legend span { padding: 0.1em 0.4em; }
"""


def _html_section(explanation):
    warning = completeness_warning(explanation)
    note = f"<p>{html.escape(warning)}</p>" if warning else ""
    strength = _strength(explanation)
    spans = " ".join(
        '<span style="background: rgb({}, {}, {})" title="{:+.4f}">{}</span>'.format(
            *_shade(w["attribution"], strength), w["attribution"], html.escape(w["word"])
        )
        for w in explanation["words"]
    )
    return (
        f"<section><h2>{html.escape(_heading(explanation))}</h2>"
        f'<div class="words">{spans}</div>{note}</section>'
    )


def explanation_html(explanations, title="Word attributions"):
    """A self-contained HTML page (inline CSS, no scripts) showing `explanations`.

    Hovering over a word shows its attribution.
    """
    legend = (
        '<p class="legend"><span style="background: rgb({}, {}, {})">toward the label</span> '
        '<span style="background: rgb({}, {}, {})">away from it</span></p>'.format(*TOWARD, *AWAY)
    )
    body = "\n".join(_html_section(e) for e in explanations)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>{legend}\n{body}\n</body></html>\n"
    )


def write_explanation_html(path, explanations, title="Word attributions"):
    """Writes `explanation_html(explanations)` to `path` (atomically)."""
    write_text_atomically(path, explanation_html(explanations, title))


def write_explanation_png(path, explanations, words_per_line=12):
    """Draws `explanations` as shaded words (one block per text) into a PNG; needs matplotlib.

    For documents and slides; the HTML view shows the values on hover.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lines = []
    for explanation in explanations:
        strength = _strength(explanation)
        words = explanation["words"]
        lines.append([(_heading(explanation), None)])
        for start in range(0, len(words), words_per_line):
            lines.append([(w["word"], _shade(w["attribution"], strength)) for w in words[start : start + words_per_line]])
    figure = Figure(figsize=(10, 0.42 * len(lines) + 0.3), dpi=100)
    # Words are laid out left to right, so each one's drawn width is needed.
    renderer = FigureCanvasAgg(figure).get_renderer()
    for row, line in enumerate(lines):
        x, y = 0.01, 1 - (row + 0.8) / len(lines)
        for word, colour in line:
            box = None if colour is None else {"facecolor": [c / 255 for c in colour], "edgecolor": "none", "pad": 2}
            text = figure.text(x, y, word, fontsize=12, color="#555" if colour is None else "black", bbox=box)
            x += text.get_window_extent(renderer).width / figure.bbox.width + 0.008
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png")
