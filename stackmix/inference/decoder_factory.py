"""Decoders from their configs: ``conf/decoder/<name>.yaml`` hold every setting (one place), and
name one of the factories below as ``_target_`` with ``_partial_: true``;
:func:`build_decoder` completes it with what is only known at run time, the model's alphabet and
the train split's texts (for ``"@train"`` LM corpora and lexicons). A decoder of another
project is used the same way, from YAML alone: ``decoder._target_=<its factory>``, any callable
``(alphabet, train_texts, **settings)`` returning a :class:`~stackmix.inference.decoders.Decoder`.

``python predict.py ... decoder=beam decoder.lm.corpus=corpus.txt``; ``task=evaluate`` takes a
mapping of such nodes (``conf/task/evaluate.yaml``).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Sequence

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from stackmix.inference.decoders import BeamSearchDecoder, Decoder, GreedyDecoder
from stackmix.inference.lm import CharNgramLM, Lexicon

__all__ = ["DECODER_CONFIGS", "beam_decoder", "build_decoder", "char_lm", "decoder_config",
           "greedy_decoder", "pyctc_decoder"]

DECODER_CONFIGS = Path(__file__).resolve().parents[1] / "conf" / "decoder"


def decoder_config(name: str) -> dict:
    """The config of ``decoder=<name>`` (``conf/decoder/<name>.yaml``) as a plain dict."""
    path = DECODER_CONFIGS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in DECODER_CONFIGS.glob("*.yaml")))
        raise ValueError(f"unknown decoder {name!r}; choose one of {known} (conf/decoder/)")
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def build_decoder(cfg: Mapping | str | None, alphabet: str,
                  train_texts: Sequence[str] | None = None) -> Decoder:
    """The decoder a config describes: a ``_target_`` node (``_partial_: true``), the name of a
    file in ``conf/decoder/`` (``"beam"``), or None for greedy decoding."""
    if cfg is None:
        return GreedyDecoder(alphabet)
    if isinstance(cfg, str):
        cfg = decoder_config(cfg)
    cfg = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
    if "_target_" not in cfg:
        raise ValueError(f"decoder config {cfg!r} has no _target_: use decoder=greedy|beam|"
                         "pyctcdecode (conf/decoder/) or give the factory as decoder._target_")
    target = cfg["_target_"]
    try:
        factory = instantiate({**cfg, "_partial_": True}, _convert_="all")
        return factory(alphabet=alphabet, train_texts=train_texts)
    except InstantiationException as e:
        raise ValueError(f"cannot build the decoder {target}: {e.__cause__ or e}") from e
    except TypeError as e:
        raise ValueError(f"decoder {target}: {e}. Its settings are listed in conf/decoder/ "
                         "(python predict.py --help).") from e


def _texts(src: str, what: str, train_texts: Sequence[str] | None) -> list[str] | None:
    if src != "@train":
        return None
    if not train_texts:
        raise ValueError(f"decoder {what}='@train' needs the train split texts, which are only "
                         "known when evaluating on a dataset; give a text file instead")
    return list(train_texts)


def _lexicon(src: str | None, lowercase: bool, train_texts: Sequence[str] | None) -> Lexicon | None:
    if not src:
        return None
    words = _texts(str(src), "lexicon", train_texts)
    return Lexicon(words, lowercase) if words is not None else Lexicon.from_file(src, lowercase)


_LM_CACHE: OrderedDict[tuple, CharNgramLM] = OrderedDict()
_LM_CACHE_SIZE = 4


def char_lm(corpus: str, order: int, alphabet: str,
            train_texts: Sequence[str] | None = None) -> CharNgramLM:
    """The character n-gram of ``corpus`` (a text file or ``"@train"``), estimated once per
    (corpus, order, alphabet) and shared: a decoder grid that varies only alpha and beta
    (``task.tune``) fits each order's LM once, and its decoders share the LM's score cache. A file
    is keyed by its path, size and modification time, so an edited corpus is read again; the
    last few LMs are kept."""
    texts = _texts(corpus, "lm.corpus", train_texts)
    if texts is not None:
        key: tuple = ("@train", tuple(texts), order, alphabet)
    else:
        path = Path(corpus)
        if not path.is_file():
            raise FileNotFoundError(f"LM corpus not found: {path}")
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns, order, alphabet)
    model = _LM_CACHE.get(key)
    if model is None:
        model = (CharNgramLM.from_texts(texts, order, vocab=alphabet) if texts is not None
                 else CharNgramLM.from_file(path, order, vocab=alphabet))
        _LM_CACHE[key] = model
        while len(_LM_CACHE) > _LM_CACHE_SIZE:
            _LM_CACHE.popitem(last=False)
    _LM_CACHE.move_to_end(key)
    return model


def greedy_decoder(alphabet: str, train_texts: Sequence[str] | None = None) -> GreedyDecoder:
    """``conf/decoder/greedy.yaml``: best path."""
    return GreedyDecoder(alphabet)


def beam_decoder(alphabet: str, train_texts: Sequence[str] | None = None, *, beam_width: int,
                 alpha: float, beta: float, prune: float, merge: str, lm: Mapping[str, Any] | None,
                 lexicon: str | None, lexicon_lowercase: bool,
                 oov_penalty: float) -> BeamSearchDecoder:
    """``conf/decoder/beam.yaml``: prefix beam search; ``lm: {corpus, order}`` a character n-gram
    LM estimated on a text file or ``"@train"``; ``lexicon`` a word list file or ``"@train"``."""
    corpus = (lm or {}).get("corpus")
    model = char_lm(str(corpus), int(lm["order"]), alphabet, train_texts) if corpus else None
    return BeamSearchDecoder(
        alphabet, beam_width=int(beam_width), lm=model, alpha=float(alpha), beta=float(beta),
        lexicon=_lexicon(lexicon, bool(lexicon_lowercase), train_texts),
        oov_penalty=float(oov_penalty), prune=float(prune), merge=str(merge))


def pyctc_decoder(alphabet: str, train_texts: Sequence[str] | None = None, *, beam_width: int,
                  alpha: float, beta: float, kenlm_model: str | None, lexicon: str | None,
                  lexicon_lowercase: bool):
    """``conf/decoder/pyctcdecode.yaml``: pyctcdecode (optional package) with a KenLM model."""
    from stackmix.inference.pyctc import PyCTCDecoder  # optional package, imported when asked

    lex = _lexicon(lexicon, bool(lexicon_lowercase), train_texts)
    return PyCTCDecoder(alphabet, beam_width=int(beam_width), kenlm_model=kenlm_model,
                        unigrams=sorted(lex.words) if lex is not None else None,
                        alpha=float(alpha), beta=float(beta))
