"""The evaluation report's rendering: settings readable, reference and prediction aligned column
by column, HTML escaped."""
from stackmix.inference.evaluation import align, write_evaluation_report
from stackmix.inference.rendering import GAP, aligned_lines, readable


def test_settings_are_written_as_key_value_pairs_not_python_dicts():
    decoders = {"greedy": {"type": "greedy"},
                "beam": {"type": "beam", "beam_width": 10, "lm": {"corpus": "@train", "order": 5}}}
    text = readable(decoders)
    assert text == ("greedy: type=greedy; beam: type=beam, beam_width=10, "
                    "lm=(corpus=@train, order=5)")
    assert "{" not in text and "'" not in text
    assert readable(None) == "-" and readable([1, 2]) == "1, 2" and readable("a.ckpt") == "a.ckpt"


def test_reference_and_prediction_lines_are_aligned_column_by_column():
    ref, hyp = aligned_lines(align("the cat sat", "the ct sa!t"))
    assert len(ref) == len(hyp)
    assert ref == f"the cat sa{GAP}t" and hyp == f"the c{GAP}t sa!t"
    pairs = [(r, h) for r, h in zip(ref, hyp) if r != h]
    assert pairs == [("a", GAP), (GAP, "!")]  # one deletion, one insertion, each in its column


def test_report_files_show_aligned_lines_readable_settings_and_escape_html(tmp_path):
    rows = [{"sample_id": "s1", "text": "<b>ab</b>", "prediction": "<b>a</b>", "confidence": 0.4},
            {"sample_id": "s2", "text": "the cat", "prediction": "the cot!", "confidence": 0.8}]
    info = {"decoders": {"greedy": {"type": "greedy"}}}
    write_evaluation_report(tmp_path / "r", rows, info=info)
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "- **decoders**: greedy: type=greedy" in md and "{'" not in md
    assert f"ref: `the cat{GAP}`<br>hyp: `the cot!`" in md
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "<b>ab</b>" not in page and "&lt;b&gt;" in page
    assert "greedy: type=greedy" in page
