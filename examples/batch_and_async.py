"""The model contract: capabilities, a concurrent batch with token counts and speed, and the
async call and stream — the same on a local model and an online one.

    python examples/batch_and_async.py [MODEL_FOLDER]      # default: SmolLM2-135M-Instruct
"""
import asyncio

from _default_model import model_folder

import lazyllm


async def async_calls(m) -> None:
    print('agenerate:', await m.agenerate('Name one colour.', temperature=0, max_tokens=8))
    pieces = [p async for p in m.astream('Count to three.', temperature=0, max_tokens=12)]
    print('astream pieces:', len(pieces))


if __name__ == '__main__':
    with lazyllm.TrainableModule(model_folder()).start() as m:
        print(f'streaming={m.supports_streaming} images={m.supports_image_input} '
              f'context={m.max_context_length}')
        questions = ['What is the capital of France?', 'What is 2 + 2?', 'Name a fruit.']
        for item in m.batch(questions, concurrency=3, temperature=0, max_tokens=16):
            print(f'{item.index}: {item.text!r} ({item.completion_tokens} tokens, '
                  f'{item.latency:.2f}s, {item.tokens_per_second:.1f} tok/s)')
        asyncio.run(async_calls(m))
