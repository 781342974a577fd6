"""A tiny text classifier for the classify engine's tests, built without any hub.

``tiny_classifier()`` returns the folder of a random, seeded ``BertForSequenceClassification``
(hidden 32, 2 layers, 128 positions) with three named labels (``CLASSIFIER_LABELS``) and a
WordPiece tokenizer trained here on ``models.CORPUS`` ([CLS] text [SEP], lower-cased). The
classification head reads three principal directions of the corpus so that different texts
get clearly different probabilities (and different top labels). It is cached like the models of
``tests.support.models`` (same cache root, marker and lock), in a second or two.

Like ``models``, this module imports only the standard library at import time.
"""
from __future__ import annotations

from pathlib import Path

from tests.support import models

RECIPE = 2      # 2: the head spreads the labels (see _spread_head)
CLASSIFIER_LABELS = ('NEGATIVE', 'NEUTRAL', 'POSITIVE')
CLASSIFIER_MAX_POSITIONS = 128
CLASSIFIER_CONFIG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=CLASSIFIER_MAX_POSITIONS)


def tiny_classifier() -> Path:
    """A random three-label BertForSequenceClassification with its tokenizer (~1 MB)."""
    return models._cached('tiny-classifier', RECIPE, _build, labels=list(CLASSIFIER_LABELS))


def _train_tokenizer():
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
    from tokenizers.models import WordPiece

    special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    tok = Tokenizer(WordPiece(unk_token='[UNK]'))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=600, special_tokens=special,
                                        show_progress=False)
    tok.train_from_iterator(models.CORPUS.splitlines(), trainer=trainer)
    cls, sep = tok.token_to_id('[CLS]'), tok.token_to_id('[SEP]')
    tok.post_processor = processors.BertProcessing(('[SEP]', sep), ('[CLS]', cls))
    return tok


@models._offline()
def _build(out: Path) -> None:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    tok = _train_tokenizer()
    config = BertConfig(vocab_size=tok.get_vocab_size(), pad_token_id=tok.token_to_id('[PAD]'),
                        id2label=dict(enumerate(CLASSIFIER_LABELS)),
                        label2id={name: i for i, name in enumerate(CLASSIFIER_LABELS)},
                        initializer_range=0.5, dtype='float32', **CLASSIFIER_CONFIG)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).eval()
    hf_tok = BertTokenizerFast(tokenizer_object=tok, unk_token='[UNK]', pad_token='[PAD]',
                               cls_token='[CLS]', sep_token='[SEP]', mask_token='[MASK]',
                               do_lower_case=True, model_max_length=CLASSIFIER_MAX_POSITIONS)
    _spread_head(model, hf_tok)
    model.save_pretrained(str(out), safe_serialization=True)
    hf_tok.save_pretrained(str(out))


def _spread_head(model, tokenizer) -> None:
    """A head whose three labels split the corpus: random heads (seed 0) once gave one
    label to every text. Each label reads one principal direction of the pooled outputs of
    the corpus lines, centred, so different texts get clearly different top labels."""
    import torch
    lines = [ln for ln in models.CORPUS.splitlines() if ln.strip()][:256]
    with torch.no_grad():
        enc = tokenizer(lines, padding=True, truncation=True, return_tensors='pt')
        pooled = model.bert(**enc).pooler_output
        mean = pooled.mean(0)
        directions = torch.linalg.svd(pooled - mean, full_matrices=False).Vh[:3]
        scale = 6.0 / ((pooled - mean) @ directions.T).std(0).clamp(min=1e-6)
        weight = directions * scale[:, None]
        model.classifier.weight.copy_(weight)
        model.classifier.bias.copy_(-(weight @ mean))
