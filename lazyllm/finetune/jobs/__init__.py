"""The finetune job processes (``python -m lazyllm.finetune.jobs.<method> job.json``).

Each module here runs in the job's own process, where it may import torch, transformers,
sentence-transformers, FlagEmbedding or peft; nothing here is imported by ``lazyllm``
itself. What a job reads, prints and writes is fixed by :mod:`._protocol`.
"""
