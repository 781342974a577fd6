"""``acme_copy``: a finetune method whose job is the package's own module (``train``)."""
from lazyllm.finetune import FinetuneMethod

copy = FinetuneMethod('acme_copy', frozenset({'llm'}), job='acme_lazyllm.train')
